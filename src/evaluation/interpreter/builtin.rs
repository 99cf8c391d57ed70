//! [`Builtin`]: the few Python builtins the solution formats use.
//!
//! `print` is handled by the machine (it writes to the captured output);
//! every other builtin is a pure function of its arguments here.
//! `round` follows Python exactly: ties go to the even neighbour, decided on
//! the float's exact binary value, so `round(2.675, 2)` is `2.67`.

use std::cmp::Ordering;
use std::rc::Rc;

use super::arithmetic::{binary, compare};
use super::error::{InterpreterError, Position};
use super::syntax::BinaryOperator;
use super::value::Value;

/// A builtin function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `print(*values)`: writes to the captured output.
    Print,
    /// `round(x)` and `round(x, ndigits)`.
    Round,
    /// `int(x)`: truncates floats, parses strings.
    Int,
    /// `float(x)`.
    Float,
    /// `abs(x)`.
    Abs,
    /// `min(a, b, ...)` or `min(list)`.
    Min,
    /// `max(a, b, ...)` or `max(list)`.
    Max,
    /// `sum(list)` or `sum(list, start)`.
    Sum,
    /// `len(list)` or `len(str)`.
    Len,
}

impl Builtin {
    /// Every builtin.
    pub const ALL: [Builtin; 9] = [
        Builtin::Print,
        Builtin::Round,
        Builtin::Int,
        Builtin::Float,
        Builtin::Abs,
        Builtin::Min,
        Builtin::Max,
        Builtin::Sum,
        Builtin::Len,
    ];

    /// Its Python name.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Print => "print",
            Builtin::Round => "round",
            Builtin::Int => "int",
            Builtin::Float => "float",
            Builtin::Abs => "abs",
            Builtin::Min => "min",
            Builtin::Max => "max",
            Builtin::Sum => "sum",
            Builtin::Len => "len",
        }
    }

    /// The builtin called `name`, if any.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL
            .into_iter()
            .find(|builtin| builtin.name() == name)
    }

    /// Calls every builtin but `print` on `arguments`. Returns the value and
    /// the number of steps spent (list elements visited).
    pub fn call(self, arguments: &[Value], at: Position) -> Result<(Value, u64), InterpreterError> {
        let arity = |expected: &str| InterpreterError::Arity {
            function: self.name().to_string(),
            expected: expected.to_string(),
            found: arguments.len(),
            at,
        };
        let value = match (self, arguments) {
            (Builtin::Print, _) => Value::None,
            (Builtin::Round, [x]) => round(x, None, at)?,
            (Builtin::Round, [x, Value::None]) => round(x, None, at)?,
            (Builtin::Round, [x, digits]) => round(x, Some(digits), at)?,
            (Builtin::Round, _) => return Err(arity("1 or 2")),
            (Builtin::Int, []) => Value::Integer(0),
            (Builtin::Int, [x]) => to_integer(x, at)?,
            (Builtin::Int, _) => return Err(arity("0 or 1")),
            (Builtin::Float, []) => Value::Float(0.0),
            (Builtin::Float, [x]) => to_float(x, at)?,
            (Builtin::Float, _) => return Err(arity("0 or 1")),
            (Builtin::Abs, [Value::Integer(x)]) => {
                Value::Integer(x.checked_abs().ok_or(InterpreterError::Overflow {
                    operation: "abs".to_string(),
                    at,
                })?)
            }
            (Builtin::Abs, [Value::Float(x)]) => Value::Float(x.abs()),
            (Builtin::Abs, [other]) => return Err(bad_type(self, other, at)),
            (Builtin::Abs, _) => return Err(arity("1")),
            (Builtin::Min | Builtin::Max, []) => return Err(arity("at least 1")),
            (Builtin::Min | Builtin::Max, [Value::List(items)]) => {
                return Ok((self.extreme(items, at)?, items.len() as u64))
            }
            (Builtin::Min | Builtin::Max, [single]) => return Err(bad_type(self, single, at)),
            (Builtin::Min | Builtin::Max, items) => self.extreme(items, at)?,
            (Builtin::Sum, [Value::List(items)]) => {
                return Ok((sum(items, Value::Integer(0), at)?, items.len() as u64))
            }
            (Builtin::Sum, [Value::List(items), start]) => {
                return Ok((sum(items, start.clone(), at)?, items.len() as u64))
            }
            (Builtin::Sum, [other] | [other, _]) => return Err(bad_type(self, other, at)),
            (Builtin::Sum, _) => return Err(arity("1 or 2")),
            (Builtin::Len, [Value::List(items)]) => Value::Integer(items.len() as i64),
            (Builtin::Len, [Value::String(text)]) => Value::Integer(text.chars().count() as i64),
            (Builtin::Len, [other]) => return Err(bad_type(self, other, at)),
            (Builtin::Len, _) => return Err(arity("1")),
        };
        Ok((value, 1))
    }

    /// The first smallest (`min`) or first largest (`max`) item, as Python.
    fn extreme(self, items: &[Value], at: Position) -> Result<Value, InterpreterError> {
        let Some(first) = items.first() else {
            return Err(InterpreterError::Value {
                message: format!("`{}` of an empty sequence", self.name()),
                at,
            });
        };
        let wanted = if self == Builtin::Min {
            Ordering::Less
        } else {
            Ordering::Greater
        };
        let mut best = first;
        for item in items {
            match compare(item, best) {
                Some(ordering) if ordering == wanted => best = item,
                Some(_) => {}
                None => return Err(bad_type(self, item, at)),
            }
        }
        Ok(best.clone())
    }
}

fn bad_type(builtin: Builtin, value: &Value, at: Position) -> InterpreterError {
    InterpreterError::Type {
        message: format!(
            "`{}` does not take a `{}`",
            builtin.name(),
            value.type_name()
        ),
        at,
    }
}

fn sum(items: &[Value], start: Value, at: Position) -> Result<Value, InterpreterError> {
    items.iter().try_fold(start, |total, item| {
        binary(BinaryOperator::Add, &total, item, at)
    })
}

fn to_integer(value: &Value, at: Position) -> Result<Value, InterpreterError> {
    match value {
        Value::Integer(_) => Ok(value.clone()),
        Value::Float(x) => float_to_integer(x.trunc(), "int", at),
        Value::String(text) => {
            let cleaned = text.trim().replace('_', "");
            let digits = cleaned.trim_start_matches(['+', '-']);
            let valid = !digits.is_empty()
                && digits.bytes().all(|byte| byte.is_ascii_digit())
                && cleaned.len() - digits.len() <= 1
                && !text.contains("__")
                && !text.trim().starts_with('_')
                && !text.trim().ends_with('_');
            if !valid {
                return Err(InterpreterError::Value {
                    message: format!("invalid literal for `int`: {}", value.to_python_repr()),
                    at,
                });
            }
            cleaned
                .parse::<i64>()
                .map(Value::Integer)
                .map_err(|_| InterpreterError::Overflow {
                    operation: "int".to_string(),
                    at,
                })
        }
        other => Err(bad_type(Builtin::Int, other, at)),
    }
}

fn to_float(value: &Value, at: Position) -> Result<Value, InterpreterError> {
    let result = match value {
        Value::Integer(x) => *x as f64,
        Value::Float(x) => *x,
        Value::String(text) => text
            .trim()
            .parse::<f64>()
            .map_err(|_| InterpreterError::Value {
                message: format!(
                    "could not convert string to float: {}",
                    value.to_python_repr()
                ),
                at,
            })?,
        other => return Err(bad_type(Builtin::Float, other, at)),
    };
    if result.is_finite() {
        Ok(Value::Float(result))
    } else {
        Err(InterpreterError::Overflow {
            operation: "float".to_string(),
            at,
        })
    }
}

/// An integral float as an int, if it lies in the 64-bit range.
fn float_to_integer(whole: f64, operation: &str, at: Position) -> Result<Value, InterpreterError> {
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&whole) {
        Ok(Value::Integer(whole as i64))
    } else {
        Err(InterpreterError::Overflow {
            operation: operation.to_string(),
            at,
        })
    }
}

/// Python's `round(x)` / `round(x, ndigits)`.
fn round(value: &Value, digits: Option<&Value>, at: Position) -> Result<Value, InterpreterError> {
    let digits = match digits {
        None => None,
        Some(Value::Integer(digits)) => Some(*digits),
        Some(other) => {
            return Err(InterpreterError::Type {
                message: format!(
                    "`round` digits must be an `int`, not `{}`",
                    other.type_name()
                ),
                at,
            })
        }
    };
    match (value, digits) {
        (Value::Integer(_), None) => Ok(value.clone()),
        (Value::Integer(_), Some(digits)) if digits >= 0 => Ok(value.clone()),
        (Value::Integer(x), Some(digits)) => {
            let decimal = x.unsigned_abs().to_string();
            let rounded = round_decimal_digits(&decimal, false, digits.unsigned_abs());
            let magnitude: i128 = rounded.parse().unwrap_or(i128::MAX);
            let signed = if *x < 0 { -magnitude } else { magnitude };
            i64::try_from(signed)
                .map(Value::Integer)
                .map_err(|_| InterpreterError::Overflow {
                    operation: "round".to_string(),
                    at,
                })
        }
        (Value::Float(x), None) => float_to_integer(x.round_ties_even(), "round", at),
        (Value::Float(x), Some(digits)) => Ok(Value::Float(round_float(*x, digits))),
        (other, _) => Err(bad_type(Builtin::Round, other, at)),
    }
}

/// `round(x, digits)` for a finite float, correctly rounded half-to-even on
/// the exact binary value, as CPython (which rounds through `dtoa`).
fn round_float(x: f64, digits: i64) -> f64 {
    // CPython's cut-offs: beyond 323 digits nothing changes; below -308
    // everything rounds to zero.
    if digits > 323 {
        return x;
    }
    if digits < -308 {
        return 0.0 * x;
    }
    if digits >= 0 {
        // Rust's fixed-precision formatting is exact and rounds ties to even.
        let text = format!("{:.*}", digits as usize, x);
        return text.parse().unwrap_or(x);
    }
    // Negative digits: round the exact integer part's decimal digits.
    let whole = format!("{:.0}", x.trunc().abs());
    let rounded = round_decimal_digits(&whole, x.fract() != 0.0, digits.unsigned_abs());
    let magnitude: f64 = rounded.parse().unwrap_or(0.0);
    magnitude.copysign(x)
}

/// Rounds the non-negative integer written as `decimal` (plus a fraction
/// that is non-zero when `fraction_nonzero`) to a multiple of
/// `10**dropped`, half to even, and returns it in decimal.
fn round_decimal_digits(decimal: &str, fraction_nonzero: bool, dropped: u64) -> String {
    let length = decimal.len() as u64;
    if dropped > length {
        return "0".to_string();
    }
    let kept_length = (length - dropped) as usize;
    let (kept, removed) = decimal.split_at(kept_length);
    let first_removed = removed.as_bytes().first().copied().unwrap_or(b'0');
    let rest_nonzero = removed.bytes().skip(1).any(|byte| byte != b'0') || fraction_nonzero;
    let last_kept_odd = kept
        .as_bytes()
        .last()
        .is_some_and(|byte| (byte - b'0') % 2 == 1);
    let round_up =
        first_removed > b'5' || (first_removed == b'5' && (rest_nonzero || last_kept_odd));
    let mut digits: Vec<u8> = if kept.is_empty() {
        vec![b'0']
    } else {
        kept.bytes().collect()
    };
    if round_up {
        let mut index = digits.len();
        loop {
            if index == 0 {
                digits.insert(0, b'1');
                break;
            }
            index -= 1;
            if digits[index] == b'9' {
                digits[index] = b'0';
            } else {
                digits[index] += 1;
                break;
            }
        }
    }
    let mut text = String::from_utf8(digits).unwrap_or_default();
    for _ in 0..dropped.min(400) {
        text.push('0');
    }
    text
}

/// Wraps a list of values for a builtin call.
pub fn list(items: Vec<Value>) -> Value {
    Value::List(Rc::from(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Position = Position { line: 1, column: 1 };

    fn call(builtin: Builtin, arguments: &[Value]) -> Value {
        builtin.call(arguments, AT).unwrap().0
    }

    #[test]
    fn round_is_bankers_rounding_on_the_exact_value() {
        // Python: round(2.5) == 2, round(3.5) == 4, round(-0.5) == 0,
        // round(2.675, 2) == 2.67, round(0.125, 2) == 0.12,
        // round(1234.5, -1) == 1230.0, round(1250.0, -2) == 1200.0,
        // round(1350, -2) == 1400, round(25, -1) == 20.
        assert_eq!(
            call(Builtin::Round, &[Value::Float(2.5)]),
            Value::Integer(2)
        );
        assert_eq!(
            call(Builtin::Round, &[Value::Float(3.5)]),
            Value::Integer(4)
        );
        assert_eq!(
            call(Builtin::Round, &[Value::Float(-0.5)]),
            Value::Integer(0)
        );
        let round2 =
            |x: f64, digits: i64| call(Builtin::Round, &[Value::Float(x), Value::Integer(digits)]);
        assert_eq!(round2(2.675, 2), Value::Float(2.67));
        assert_eq!(round2(0.125, 2), Value::Float(0.12));
        assert_eq!(round2(1234.5, -1), Value::Float(1230.0));
        assert_eq!(round2(1250.0, -2), Value::Float(1200.0));
        assert_eq!(round2(-1251.0, -2), Value::Float(-1300.0));
        assert_eq!(round2(9.0, -5), Value::Float(0.0));
        let round_integer = |x: i64, digits: i64| {
            call(Builtin::Round, &[Value::Integer(x), Value::Integer(digits)])
        };
        assert_eq!(round_integer(1350, -2), Value::Integer(1400));
        assert_eq!(round_integer(25, -1), Value::Integer(20));
        assert_eq!(round_integer(-35, -1), Value::Integer(-40));
        assert_eq!(round_integer(7, 3), Value::Integer(7));
        assert!(Builtin::Round
            .call(&[Value::Integer(i64::MAX), Value::Integer(-1)], AT)
            .is_err());
    }

    #[test]
    fn int_and_float_conversions() {
        assert_eq!(
            call(Builtin::Int, &[Value::Float(-3.9)]),
            Value::Integer(-3)
        );
        assert_eq!(
            call(Builtin::Int, &[Value::String(Rc::from(" -42 "))]),
            Value::Integer(-42)
        );
        assert!(Builtin::Int
            .call(&[Value::String(Rc::from("4.5"))], AT)
            .is_err());
        assert!(Builtin::Int.call(&[Value::Float(1e19)], AT).is_err());
        assert_eq!(
            call(Builtin::Float, &[Value::Integer(3)]),
            Value::Float(3.0)
        );
        assert!(Builtin::Float
            .call(&[Value::String(Rc::from("inf"))], AT)
            .is_err());
    }

    #[test]
    fn min_max_sum_follow_python() {
        // Python: min(1, 1.0) is 1 (the first), max([2, 7.5, 3]) == 7.5,
        // sum([1, 2.5]) == 3.5.
        assert_eq!(
            call(Builtin::Min, &[Value::Integer(1), Value::Float(1.0)]),
            Value::Integer(1)
        );
        let items = list(vec![
            Value::Integer(2),
            Value::Float(7.5),
            Value::Integer(3),
        ]);
        assert_eq!(
            call(Builtin::Max, std::slice::from_ref(&items)),
            Value::Float(7.5)
        );
        let items = list(vec![Value::Integer(1), Value::Float(2.5)]);
        assert_eq!(call(Builtin::Sum, &[items]), Value::Float(3.5));
        assert!(matches!(
            Builtin::Max.call(&[list(Vec::new())], AT),
            Err(InterpreterError::Value { .. })
        ));
        assert!(matches!(
            Builtin::Abs.call(&[], AT),
            Err(InterpreterError::Arity { .. })
        ));
    }
}
