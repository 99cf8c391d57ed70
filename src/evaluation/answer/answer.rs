//! [`Answer`]: a numeric final answer, compared the way graders should.
//!
//! Written answers (`18`, `0.5`, `1/2`, `\frac{1}{2}`) are exact rationals,
//! so `0.5 == 1/2` exactly and `18 == 18.0`. Integral floats from the
//! interpreter become exact too. Other floats (`1/3` computed in code) are
//! [`Answer::Approximate`]; a comparison involving one converts both sides to
//! `f64` and accepts a relative difference up to [`RELATIVE_TOLERANCE`]
//! (with an absolute floor of [`ABSOLUTE_TOLERANCE`] near zero), like
//! Python's `math.isclose`, so `0.1 + 0.2` equals `3/10`. That equality is
//! not transitive near the tolerance; majority voting therefore groups
//! answers by first match in order (see the metrics module).

use super::number::{normalize, scan_number};
use super::rational::Rational;
use crate::evaluation::interpreter::Value;

/// Relative tolerance for comparisons involving an approximate answer.
pub const RELATIVE_TOLERANCE: f64 = 1e-9;
/// Absolute tolerance for comparisons involving an approximate answer.
pub const ABSOLUTE_TOLERANCE: f64 = 1e-12;

/// A numeric answer.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// An exact rational: every written number, and integral results.
    Exact(Rational),
    /// A finite float from code, compared with a tolerance.
    Approximate(f64),
}

/// Why a text is not an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// Nothing but whitespace.
    #[error("answer is empty")]
    Empty,
    /// No single number could be read.
    #[error("`{text}` is not a number")]
    NotANumber {
        /// The text, shortened to 80 characters.
        text: String,
    },
}

impl Answer {
    /// Reads a whole answer text: a reference such as GSM8K's `18` or
    /// `1,000`, or the content of a `\boxed{}`.
    ///
    /// LaTeX spacing and `\text{...}` are dropped, `x = 5` reads as 5, and
    /// when the text is not one number but contains exactly one (`18
    /// dollars`), that number is the answer.
    pub fn parse(text: &str) -> Result<Answer, AnswerError> {
        let cleaned = normalize(&unwrap_text_commands(text));
        let mut cleaned = cleaned.trim();
        if let Some((_, after)) = cleaned.rsplit_once('=') {
            cleaned = after.trim();
        }
        cleaned = cleaned.trim_matches('$').trim();
        cleaned = cleaned.trim_end_matches(['.', ' ']);
        if cleaned.is_empty() {
            return Err(AnswerError::Empty);
        }
        if let Some((answer, length)) = scan_number(cleaned) {
            if cleaned[length..].trim().is_empty() {
                return Ok(answer);
            }
        }
        let numbers = numbers_in(cleaned);
        match numbers.as_slice() {
            [only] => Ok(*only),
            _ => Err(AnswerError::NotANumber {
                text: text.chars().take(80).collect(),
            }),
        }
    }

    /// The answer a program's value stands for: ints and integral floats
    /// exactly, other floats approximately, strings parsed; `None` for
    /// `None`, lists and functions.
    pub fn from_value(value: &Value) -> Option<Answer> {
        match value {
            Value::Integer(integer) => Some(Answer::Exact(Rational::integer(i128::from(*integer)))),
            Value::Float(float) => Answer::from_f64(*float),
            Value::String(text) => Answer::parse(text).ok(),
            _ => None,
        }
    }

    /// An answer from a float: exact when integral and within 2**100.
    pub fn from_f64(value: f64) -> Option<Answer> {
        if !value.is_finite() {
            return None;
        }
        if value.fract() == 0.0 && value.abs() < 1.2676506002282294e30 {
            return Some(Answer::Exact(Rational::integer(value as i128)));
        }
        Some(Answer::Approximate(value))
    }

    /// The answer as the nearest float.
    pub fn to_f64(self) -> f64 {
        match self {
            Answer::Exact(rational) => rational.to_f64(),
            Answer::Approximate(value) => value,
        }
    }

    /// The answer negated, if representable.
    pub fn negate(self) -> Option<Answer> {
        match self {
            Answer::Exact(rational) => rational.checked_negate().map(Answer::Exact),
            Answer::Approximate(value) => Some(Answer::Approximate(-value)),
        }
    }
}

impl PartialEq for Answer {
    fn eq(&self, other: &Answer) -> bool {
        match (self, other) {
            (Answer::Exact(a), Answer::Exact(b)) => a == b,
            _ => {
                let (a, b) = (self.to_f64(), other.to_f64());
                let difference = (a - b).abs();
                difference <= ABSOLUTE_TOLERANCE
                    || difference <= RELATIVE_TOLERANCE * a.abs().max(b.abs())
            }
        }
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Exact(rational) => write!(formatter, "{rational}"),
            Answer::Approximate(value) => write!(formatter, "{value}"),
        }
    }
}

impl std::str::FromStr for Answer {
    type Err = AnswerError;

    fn from_str(text: &str) -> Result<Answer, AnswerError> {
        Answer::parse(text)
    }
}

/// `\text{ dollars}` and friends replaced by their content with spaces
/// around, so units do not stick to numbers. An unclosed command becomes a
/// space. One pass: each search for `}` covers text that is then consumed,
/// and once a search fails no later one is tried.
fn unwrap_text_commands(text: &str) -> String {
    const COMMANDS: [&str; 5] = ["\\text{", "\\textbf{", "\\mbox{", "\\mathrm{", "\\mathbf{"];
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    let mut closed_later = true;
    while index < text.len() {
        let rest = &text[index..];
        if let Some(command) = COMMANDS.iter().find(|command| rest.starts_with(**command)) {
            let content = &rest[command.len()..];
            let close = if closed_later {
                content.find('}')
            } else {
                None
            };
            match close {
                Some(length) => {
                    out.push(' ');
                    out.push_str(&content[..length]);
                    out.push(' ');
                    index += command.len() + length + 1;
                }
                None => {
                    closed_later = false;
                    out.push(' ');
                    index += command.len();
                }
            }
            continue;
        }
        let Some(character) = rest.chars().next() else {
            break;
        };
        out.push(character);
        index += character.len_utf8();
    }
    out
}

/// Every number in `text` that starts at a word boundary.
pub(super) fn numbers_in(text: &str) -> Vec<Answer> {
    let mut numbers = Vec::new();
    let mut index = 0;
    let mut previous: Option<char> = None;
    while index < text.len() {
        let rest = &text[index..];
        let boundary = previous.is_none_or(|c| !c.is_alphanumeric() && c != '.' && c != '_');
        if boundary {
            if let Some((answer, length)) = scan_number(rest) {
                if length > 0 {
                    numbers.push(answer);
                    index += length;
                    previous = text[..index].chars().next_back();
                    continue;
                }
            }
        }
        let Some(character) = rest.chars().next() else {
            break;
        };
        previous = Some(character);
        index += character.len_utf8();
    }
    numbers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Answer {
        Answer::parse(text).unwrap()
    }

    #[test]
    fn equal_values_in_different_forms_are_equal() {
        assert_eq!(parse("18"), parse("18.0"));
        assert_eq!(parse("0.5"), parse("1/2"));
        assert_eq!(parse("\\frac{1}{2}"), parse("0.50"));
        assert_eq!(parse("1,000"), parse("1000"));
        assert_eq!(parse("$18"), parse("18 \\text{ dollars}"));
        assert_eq!(parse("x = 5"), parse("5"));
        assert_eq!(parse("-3"), parse("\u{2212}3"));
        assert_ne!(parse("18"), parse("19"));
        assert_ne!(parse("1/3"), parse("0.333"));
    }

    #[test]
    fn approximate_answers_compare_with_a_tolerance() {
        let sum = Answer::from_f64(0.1 + 0.2).unwrap();
        assert!(matches!(sum, Answer::Approximate(_)));
        assert_eq!(sum, parse("0.3"));
        assert_eq!(Answer::from_f64(1.0 / 3.0).unwrap(), parse("1/3"));
        assert_ne!(Answer::from_f64(0.3334).unwrap(), parse("1/3"));
        assert_eq!(Answer::from_f64(18.0), Some(parse("18")));
        assert!(matches!(Answer::from_f64(18.0), Some(Answer::Exact(_))));
        assert_eq!(Answer::from_f64(f64::INFINITY), None);
    }

    #[test]
    fn answers_from_program_values() {
        assert_eq!(Answer::from_value(&Value::Integer(-4)), Some(parse("-4")));
        assert_eq!(Answer::from_value(&Value::Float(2.5)), Some(parse("5/2")));
        assert_eq!(Answer::from_value(&Value::None), None);
    }

    #[test]
    fn non_answers_are_errors() {
        assert_eq!(Answer::parse("  "), Err(AnswerError::Empty));
        assert!(matches!(
            Answer::parse("x"),
            Err(AnswerError::NotANumber { .. })
        ));
        assert!(matches!(
            Answer::parse("3 and 4"),
            Err(AnswerError::NotANumber { .. })
        ));
        assert!(Answer::parse("\\text{unclosed").is_err());
        assert_eq!(Answer::parse("\\text{\\text{7}"), Ok(parse("7")));
    }

    #[test]
    fn many_text_commands_take_linear_time() {
        // Regression: re-searching the whole text after each `\text{..}`
        // replacement was quadratic; a megabyte of them took minutes.
        let closed = "\\text{}".repeat(150_000) + "4";
        assert_eq!(Answer::parse(&closed), Ok(parse("4")));
        let unclosed = "\\text{".repeat(150_000);
        assert!(Answer::parse(&unclosed).is_err());
    }
}
