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

    /// The value as `str()` shows it (what `print` writes), cut at
    /// [`TEXT_LIMIT`] bytes.
    pub fn to_python_string(&self) -> String {
        let mut out = String::new();
        self.write_python(&mut out, false, TEXT_LIMIT);
        out
    }

    /// The value as `repr()` shows it, cut at [`TEXT_LIMIT`] bytes.
    pub fn to_python_repr(&self) -> String {
        let mut out = String::new();
        self.write_python(&mut out, true, TEXT_LIMIT);
        out
    }

    /// Appends `str()` (or `repr()` when `repr`) of the value to `out`,
    /// stopping once `out` is longer than `limit` bytes; false when it
    /// stopped. A list of many references to one long string would
    /// otherwise print far more than the program's own size.
    pub fn write_python(&self, out: &mut String, repr: bool, limit: usize) -> bool {
        match self {
            Value::Integer(value) => out.push_str(&value.to_string()),
            Value::Float(value) => out.push_str(&float_repr(*value)),
            Value::String(text) if !repr => {
                let room = limit.saturating_sub(out.len());
                if text.len() > room {
                    let mut cut = room;
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    out.push_str(&text[..cut]);
                    return false;
                }
                out.push_str(text);
            }
            Value::String(text) => {
                out.push_str(&string_repr(text, limit.saturating_sub(out.len())))
            }
            Value::List(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    if !item.write_python(out, true, limit) {
                        return false;
                    }
                }
                out.push(']');
            }
            Value::None => out.push_str("None"),
            Value::Function(function) => {
                out.push_str("<function ");
                out.push_str(&function.name);
                out.push('>');
            }
            Value::Builtin(builtin) => {
                out.push_str("<built-in function ");
                out.push_str(builtin.name());
                out.push('>');
            }
        }
        out.len() <= limit
    }
}

/// The most bytes [`Value::to_python_string`] and [`Value::to_python_repr`]
/// produce.
pub const TEXT_LIMIT: usize = 64 * 1024;

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
/// double quote; cut once longer than `limit` bytes.
fn string_repr(text: &str, limit: usize) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for character in text.chars() {
        if out.len() > limit {
            return out;
        }
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

    #[test]
    fn printing_stops_at_the_limit() {
        let long = Value::String(Rc::from("ab".repeat(1000)));
        let many = Value::List(Rc::from(vec![long; 1000]));
        let mut out = String::new();
        assert!(!many.write_python(&mut out, false, 5000));
        assert!(out.len() < 5000 + 2100, "{}", out.len());
        assert!(many.to_python_repr().len() <= TEXT_LIMIT + 8);
    }
}
