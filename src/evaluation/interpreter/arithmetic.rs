//! Python's arithmetic on [`Value`]s: the operator semantics in one place.
//!
//! - `int op int` stays an int for `+ - * // % **` (non-negative exponent);
//!   a result outside 64 bits is an overflow error (Python would grow).
//! - A float on either side makes the operation a float one.
//! - `/` always gives a float; `int / int` is correctly rounded from the
//!   exact quotient, as CPython does, even above 2**53.
//! - `//` floors and `%` takes the divisor's sign, for ints and floats
//!   (float `//` and `%` follow CPython's `float_divmod` algorithm).
//! - `**`: an int to a negative int power is a float; zero to a negative
//!   power is a division by zero; a negative float to a fractional power
//!   (complex in Python) is a type error.
//! - Any float result that is not finite is an overflow error. Python
//!   returns `inf` for `1e308 * 10`; an infinite answer is never right, so
//!   failing early is the useful choice here.

use std::cmp::Ordering;

use super::error::{InterpreterError, Position};
use super::syntax::{BinaryOperator, UnaryOperator};
use super::value::Value;

/// `left operator right` with Python's semantics.
pub fn binary(
    operator: BinaryOperator,
    left: &Value,
    right: &Value,
    at: Position,
) -> Result<Value, InterpreterError> {
    let overflow = || InterpreterError::Overflow {
        operation: operator.symbol().to_string(),
        at,
    };
    match (left, right) {
        (Value::Integer(a), Value::Integer(b)) => integer_binary(operator, *a, *b, at),
        (Value::Integer(_) | Value::Float(_), Value::Integer(_) | Value::Float(_)) => {
            let result = float_binary(operator, as_float(left), as_float(right), at)?;
            if result.is_finite() {
                Ok(Value::Float(result))
            } else {
                Err(overflow())
            }
        }
        _ => Err(InterpreterError::Type {
            message: format!(
                "unsupported operand types for `{}`: `{}` and `{}`",
                operator.symbol(),
                left.type_name(),
                right.type_name()
            ),
            at,
        }),
    }
}

/// `-value` or `+value`.
pub fn unary(
    operator: UnaryOperator,
    value: &Value,
    at: Position,
) -> Result<Value, InterpreterError> {
    match (operator, value) {
        (UnaryOperator::Negate, Value::Integer(a)) => {
            a.checked_neg()
                .map(Value::Integer)
                .ok_or(InterpreterError::Overflow {
                    operation: "-".to_string(),
                    at,
                })
        }
        (UnaryOperator::Negate, Value::Float(a)) => Ok(Value::Float(-a)),
        (UnaryOperator::Plus, Value::Integer(_) | Value::Float(_)) => Ok(value.clone()),
        _ => Err(InterpreterError::Type {
            message: format!(
                "bad operand type for unary `{}`: `{}`",
                if operator == UnaryOperator::Negate {
                    "-"
                } else {
                    "+"
                },
                value.type_name()
            ),
            at,
        }),
    }
}

/// Compares two numbers exactly, as Python does (an int and a float are
/// compared by their mathematical values, not after rounding the int).
/// `None` when either is not a number.
pub fn compare(left: &Value, right: &Value) -> Option<Ordering> {
    match (left, right) {
        (Value::Integer(a), Value::Integer(b)) => Some(a.cmp(b)),
        (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
        (Value::Integer(a), Value::Float(b)) => {
            compare_float_integer(*b, *a).map(Ordering::reverse)
        }
        (Value::Float(a), Value::Integer(b)) => compare_float_integer(*a, *b),
        _ => None,
    }
}

fn compare_float_integer(float: f64, integer: i64) -> Option<Ordering> {
    if float.is_nan() {
        return None;
    }
    // 2**63 is exactly representable; every i64 lies in [-2**63, 2**63).
    if float >= 9_223_372_036_854_775_808.0 {
        return Some(Ordering::Greater);
    }
    if float < -9_223_372_036_854_775_808.0 {
        return Some(Ordering::Less);
    }
    let whole = float.trunc();
    let whole_integer = whole as i64; // exact: in range and integral
    Some(
        whole_integer
            .cmp(&integer)
            .then_with(|| (float - whole).partial_cmp(&0.0).unwrap_or(Ordering::Equal)),
    )
}

/// The value as a float (ints convert with round-to-nearest-even, as
/// Python's `float(int)`).
pub fn as_float(value: &Value) -> f64 {
    match value {
        Value::Integer(a) => *a as f64,
        Value::Float(a) => *a,
        _ => f64::NAN,
    }
}

fn integer_binary(
    operator: BinaryOperator,
    a: i64,
    b: i64,
    at: Position,
) -> Result<Value, InterpreterError> {
    let overflow = || InterpreterError::Overflow {
        operation: operator.symbol().to_string(),
        at,
    };
    let division_by_zero = InterpreterError::DivisionByZero { at };
    let result = match operator {
        BinaryOperator::Add => a.checked_add(b),
        BinaryOperator::Subtract => a.checked_sub(b),
        BinaryOperator::Multiply => a.checked_mul(b),
        BinaryOperator::Divide => {
            if b == 0 {
                return Err(division_by_zero);
            }
            return Ok(Value::Float(true_divide(a, b)));
        }
        BinaryOperator::FloorDivide => {
            if b == 0 {
                return Err(division_by_zero);
            }
            let quotient = a.checked_div(b).ok_or_else(overflow)?;
            let remainder = a.wrapping_rem(b);
            if remainder != 0 && ((remainder < 0) != (b < 0)) {
                Some(quotient - 1)
            } else {
                Some(quotient)
            }
        }
        BinaryOperator::Modulo => {
            if b == 0 {
                return Err(division_by_zero);
            }
            // wrapping_rem gives 0 for i64::MIN % -1, which is Python's answer.
            let remainder = a.wrapping_rem(b);
            if remainder != 0 && ((remainder < 0) != (b < 0)) {
                Some(remainder + b)
            } else {
                Some(remainder)
            }
        }
        BinaryOperator::Power => {
            if b < 0 {
                if a == 0 {
                    return Err(division_by_zero);
                }
                let result = float_binary(operator, a as f64, b as f64, at)?;
                return if result.is_finite() {
                    Ok(Value::Float(result))
                } else {
                    Err(overflow())
                };
            }
            match a {
                0 | 1 => Some(if b == 0 { 1 } else { a }),
                -1 => Some(if b % 2 == 0 { 1 } else { -1 }),
                _ => u32::try_from(b).ok().and_then(|b| a.checked_pow(b)),
            }
        }
    };
    result.map(Value::Integer).ok_or_else(overflow)
}

/// `a / b` for ints, correctly rounded from the exact rational quotient.
///
/// Converting both to floats first would round twice for values above
/// 2**53. Instead: scale the quotient to 55-56 significant bits with
/// integer arithmetic, fold any remainder into a sticky bit, and let the
/// single conversion to `f64` round once (to nearest, ties to even).
fn true_divide(a: i64, b: i64) -> f64 {
    let negative = (a < 0) != (b < 0);
    let numerator = a.unsigned_abs() as u128;
    let denominator = b.unsigned_abs() as u128;
    if numerator == 0 {
        return if negative { -0.0 } else { 0.0 };
    }
    let bits = |x: u128| 128 - x.leading_zeros() as i32;
    let shift = 55 + bits(denominator) - bits(numerator);
    let (scaled_numerator, scaled_denominator) = if shift >= 0 {
        (numerator << shift, denominator)
    } else {
        (numerator, denominator << (-shift))
    };
    let quotient = scaled_numerator / scaled_denominator;
    let sticky = u128::from(scaled_numerator % scaled_denominator != 0);
    let magnitude = ((quotient | sticky) as f64) * 2f64.powi(-shift);
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

fn float_binary(
    operator: BinaryOperator,
    a: f64,
    b: f64,
    at: Position,
) -> Result<f64, InterpreterError> {
    let division_by_zero = InterpreterError::DivisionByZero { at };
    Ok(match operator {
        BinaryOperator::Add => a + b,
        BinaryOperator::Subtract => a - b,
        BinaryOperator::Multiply => a * b,
        BinaryOperator::Divide => {
            if b == 0.0 {
                return Err(division_by_zero);
            }
            a / b
        }
        BinaryOperator::FloorDivide => {
            if b == 0.0 {
                return Err(division_by_zero);
            }
            float_divmod(a, b).0
        }
        BinaryOperator::Modulo => {
            if b == 0.0 {
                return Err(division_by_zero);
            }
            float_divmod(a, b).1
        }
        BinaryOperator::Power => float_power(a, b, at)?,
    })
}

/// `(a // b, a % b)` for floats, after CPython's `float_divmod`: the
/// remainder comes from `fmod` (exact), takes the divisor's sign, and the
/// quotient is rounded so that `div * b + mod` is as close to `a` as
/// possible.
fn float_divmod(a: f64, b: f64) -> (f64, f64) {
    let mut remainder = a % b; // Rust's `%` on floats is C's fmod: exact
    let mut quotient = (a - remainder) / b;
    if remainder != 0.0 {
        if (b < 0.0) != (remainder < 0.0) {
            remainder += b;
            quotient -= 1.0;
        }
    } else {
        remainder = 0.0f64.copysign(b);
    }
    let floor_quotient = if quotient != 0.0 {
        let floored = quotient.floor();
        if quotient - floored > 0.5 {
            floored + 1.0
        } else {
            floored
        }
    } else {
        0.0f64.copysign(a / b)
    };
    (floor_quotient, remainder)
}

/// `a ** b` for floats, with Python's errors. The power is CORE-MATH's
/// correctly rounded `pow`: the one right answer, so the same bits on every
/// machine, and CPython's on glibc (whose `pow` rounds correctly in all but
/// rare cases); the `libm` crate's `pow` was off by one unit in the last
/// place on a few of the tests' expressions.
fn float_power(a: f64, b: f64, at: Position) -> Result<f64, InterpreterError> {
    if b == 0.0 {
        return Ok(1.0);
    }
    if a == 0.0 && b < 0.0 {
        return Err(InterpreterError::DivisionByZero { at });
    }
    if a < 0.0 && b.fract() != 0.0 && b.is_finite() {
        return Err(InterpreterError::Type {
            message: "a negative number to a fractional power is complex, which is not supported"
                .to_string(),
            at,
        });
    }
    Ok(core_math::pow(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Position = Position { line: 1, column: 1 };

    fn integers(operator: BinaryOperator, a: i64, b: i64) -> Result<Value, InterpreterError> {
        binary(operator, &Value::Integer(a), &Value::Integer(b), AT)
    }

    fn floats(operator: BinaryOperator, a: f64, b: f64) -> Value {
        binary(operator, &Value::Float(a), &Value::Float(b), AT).unwrap()
    }

    #[test]
    fn floor_division_and_modulo_take_python_signs() {
        // Python: -7 // 2 == -4, -7 % 2 == 1, 7 % -2 == -1, 7 // -2 == -4.
        assert_eq!(
            integers(BinaryOperator::FloorDivide, -7, 2),
            Ok(Value::Integer(-4))
        );
        assert_eq!(
            integers(BinaryOperator::Modulo, -7, 2),
            Ok(Value::Integer(1))
        );
        assert_eq!(
            integers(BinaryOperator::Modulo, 7, -2),
            Ok(Value::Integer(-1))
        );
        assert_eq!(
            integers(BinaryOperator::FloorDivide, 7, -2),
            Ok(Value::Integer(-4))
        );
        // Python: -7.5 // 2 == -4.0, -7.5 % 2 == 0.5, 7.5 % -2 == -0.5.
        assert_eq!(
            floats(BinaryOperator::FloorDivide, -7.5, 2.0),
            Value::Float(-4.0)
        );
        assert_eq!(floats(BinaryOperator::Modulo, -7.5, 2.0), Value::Float(0.5));
        assert_eq!(
            floats(BinaryOperator::Modulo, 7.5, -2.0),
            Value::Float(-0.5)
        );
    }

    #[test]
    fn integer_edge_cases_overflow_instead_of_wrapping() {
        assert!(matches!(
            integers(BinaryOperator::FloorDivide, i64::MIN, -1),
            Err(InterpreterError::Overflow { .. })
        ));
        assert_eq!(
            integers(BinaryOperator::Modulo, i64::MIN, -1),
            Ok(Value::Integer(0))
        );
        assert!(matches!(
            integers(BinaryOperator::Multiply, i64::MAX, 2),
            Err(InterpreterError::Overflow { .. })
        ));
        assert!(matches!(
            integers(BinaryOperator::Power, 2, 64),
            Err(InterpreterError::Overflow { .. })
        ));
        assert_eq!(
            integers(BinaryOperator::Power, -1, i64::MAX),
            Ok(Value::Integer(-1))
        );
        assert_eq!(
            integers(BinaryOperator::Power, 2, -2),
            Ok(Value::Float(0.25))
        );
        assert!(matches!(
            integers(BinaryOperator::Power, 0, -1),
            Err(InterpreterError::DivisionByZero { .. })
        ));
    }

    #[test]
    fn integer_true_division_is_correctly_rounded_above_two_to_the_53() {
        // Python: (2**53 + 1) / 1 == 9007199254740992.0 (ties to even), and
        // 9007199254740993 / 3 == 3002399751580331.0.
        assert_eq!(true_divide((1 << 53) + 1, 1), 9_007_199_254_740_992.0);
        assert_eq!(
            true_divide(9_007_199_254_740_993, 3),
            3_002_399_751_580_331.0
        );
        assert_eq!(true_divide(i64::MIN, 1), -9_223_372_036_854_775_808.0);
        assert_eq!(true_divide(1, 3), 1.0 / 3.0);
        assert_eq!(true_divide(-7, 2), -3.5);
    }

    #[test]
    fn mixed_comparison_is_exact() {
        let big = Value::Integer((1 << 53) + 1);
        let rounded = Value::Float(9_007_199_254_740_992.0);
        assert_eq!(compare(&big, &rounded), Some(Ordering::Greater));
        assert_eq!(
            compare(&Value::Float(2.5), &Value::Integer(2)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(&Value::Float(-2.5), &Value::Integer(-2)),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare(&Value::Integer(3), &Value::Float(3.0)),
            Some(Ordering::Equal)
        );
    }

    #[test]
    fn non_finite_float_results_are_overflow_errors() {
        let result = binary(
            BinaryOperator::Multiply,
            &Value::Float(1e308),
            &Value::Integer(10),
            AT,
        );
        assert!(matches!(result, Err(InterpreterError::Overflow { .. })));
        let complex = binary(
            BinaryOperator::Power,
            &Value::Float(-8.0),
            &Value::Float(0.5),
            AT,
        );
        assert!(matches!(complex, Err(InterpreterError::Type { .. })));
    }
}
