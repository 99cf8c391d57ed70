//! [`Value`]: what the interpreter computes with, printed as Python prints it.

use std::rc::Rc;

use super::builtin::Builtin;
use super::syntax::Function;

/// A runtime value.
///
/// Integers are 64-bit (Python's are unbounded; a result outside the range
/// is an overflow error here). Floats are always finite: an operation that
/// would produce `inf` or `nan` is an overflow error.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer.
    Integer(i64),
    /// A finite float.
    Float(f64),
    /// A string (only printed, passed around and parsed by `int`/`float`).
    String(Rc<str>),
    /// A list (only built from a display and consumed by builtins).
    List(Rc<[Value]>),
    /// `None`, also what a function without `return` gives.
    None,
    /// A function the program defined.
    Function(Rc<Function>),
    /// A builtin function.
    Builtin(Builtin),
}

impl Value {
    /// Python's name for the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Integer(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "str",
            Value::List(_) => "list",
            Value::None => "NoneType",
            Value::Function(_) => "function",
            Value::Builtin(_) => "builtin_function_or_method",
        }
    }

    /// The value as `str()` shows it (what `print` writes).
    pub fn to_python_string(&self) -> String {
        match self {
            Value::String(text) => text.to_string(),
            other => other.to_python_repr(),
        }
    }

    /// The value as `repr()` shows it.
    pub fn to_python_repr(&self) -> String {
        match self {
            Value::Integer(value) => value.to_string(),
            Value::Float(value) => float_repr(*value),
            Value::String(text) => string_repr(text),
            Value::List(items) => {
                let items: Vec<String> = items.iter().map(Value::to_python_repr).collect();
                format!("[{}]", items.join(", "))
            }
            Value::None => "None".to_string(),
            Value::Function(function) => format!("<function {}>", function.name),
            Value::Builtin(builtin) => format!("<built-in function {}>", builtin.name()),
        }
    }
}

/// Python's `repr` of a float: the shortest digits that round-trip, in
/// positional notation when the decimal exponent is in `-4..16`, else in
/// scientific notation with a signed, at least two-digit exponent.
pub fn float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. `-1.5e-7`.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        let text = if point <= 0 {
            format!("0.{}{}", "0".repeat(point.unsigned_abs() as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            let (whole, fraction) = digits.split_at(point as usize);
            format!("{whole}.{fraction}")
        };
        format!("{sign}{text}")
    } else {
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{sign}{mantissa}e{exponent_sign}{:02}",
            exponent.unsigned_abs()
        )
    }
}

/// Python's `repr` of a string, in single quotes unless it holds one and no
/// double quote.
fn string_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        // Expected strings are Python 3's `repr` of the same floats.
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.6, "123456789012345.6"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.0 / 3.0, "0.3333333333333333"),
            (-0.0, "-0.0"),
            (1e300, "1e+300"),
            (5e-324, "5e-324"),
        ];
        for (value, expected) in cases {
            assert_eq!(float_repr(value), expected, "repr of {value:e}");
        }
    }

    #[test]
    fn strings_print_raw_and_repr_quoted() {
        let value = Value::String(Rc::from("it's"));
        assert_eq!(value.to_python_string(), "it's");
        assert_eq!(value.to_python_repr(), "\"it's\"");
        let list = Value::List(Rc::from(vec![Value::Integer(1), Value::Float(2.0)]));
        assert_eq!(list.to_python_string(), "[1, 2.0]");
    }
}
