//! [`Number`]: an exact rational number, so that problem arithmetic never
//! depends on floating point.
//!
//! Synthetic problems only use whole numbers, but GSM8K annotations contain
//! decimals (`.5`, `0.25`) and a few fractions; an `i128` numerator and
//! denominator hold every value those data sets reach exactly.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::DataError;

/// An exact rational number kept in lowest terms with a positive denominator.
/// It serialises as its text (`"0.25"`, `"1/3"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Number {
    numerator: i128,
    denominator: i128,
}

fn greatest_common_divisor(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        let remainder = a % b;
        a = b;
        b = remainder;
    }
    a
}

impl Number {
    /// The whole number `value`.
    pub fn whole(value: i64) -> Number {
        Number {
            numerator: i128::from(value),
            denominator: 1,
        }
    }

    /// `numerator / denominator` in lowest terms; `None` when the denominator is 0.
    pub fn ratio(numerator: i128, denominator: i128) -> Option<Number> {
        if denominator == 0 {
            return None;
        }
        let divisor = greatest_common_divisor(numerator, denominator).max(1);
        let sign = if denominator < 0 { -1 } else { 1 };
        Some(Number {
            numerator: sign * numerator / divisor,
            denominator: sign * denominator / divisor,
        })
    }

    /// Parses `12`, `-3`, `1,234`, `0.25`, `.5`, `5.` or `3/4`.
    pub fn parse(text: &str) -> Result<Number, DataError> {
        let error = || DataError::Number(text.to_string());
        let cleaned: String = text.trim().chars().filter(|c| *c != ',').collect();
        if let Some((top, bottom)) = cleaned.split_once('/') {
            let top = Number::parse(top).map_err(|_| error())?;
            let bottom = Number::parse(bottom).map_err(|_| error())?;
            return top.checked_divide(bottom).ok_or_else(error);
        }
        let (negative, digits) = match cleaned.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, cleaned.as_str()),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |part: &str| part.chars().all(|c| c.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty())
            || !all_digits(whole)
            || !all_digits(fraction)
            || whole.len() + fraction.len() > 30
        {
            return Err(error());
        }
        let mut numerator: i128 = 0;
        for digit in whole.chars().chain(fraction.chars()) {
            numerator = numerator * 10 + i128::from(digit as u8 - b'0');
        }
        let denominator = 10i128.pow(fraction.len() as u32);
        let numerator = if negative { -numerator } else { numerator };
        Number::ratio(numerator, denominator).ok_or_else(error)
    }

    /// Whether the number has no fractional part.
    pub fn is_whole(self) -> bool {
        self.denominator == 1
    }

    /// The number as an integer, if it is whole and fits.
    pub fn as_whole(self) -> Option<i64> {
        if self.is_whole() {
            i64::try_from(self.numerator).ok()
        } else {
            None
        }
    }

    /// The nearest `f64`.
    pub fn to_f64(self) -> f64 {
        self.numerator as f64 / self.denominator as f64
    }

    /// Whether the decimal expansion terminates (the denominator has only the
    /// prime factors 2 and 5).
    pub fn is_finite_decimal(self) -> bool {
        let mut denominator = self.denominator;
        while denominator % 2 == 0 {
            denominator /= 2;
        }
        while denominator % 5 == 0 {
            denominator /= 5;
        }
        denominator == 1
    }

    /// `self + other`, `None` on overflow.
    pub fn checked_add(self, other: Number) -> Option<Number> {
        let numerator = self
            .numerator
            .checked_mul(other.denominator)?
            .checked_add(other.numerator.checked_mul(self.denominator)?)?;
        Number::ratio(numerator, self.denominator.checked_mul(other.denominator)?)
    }

    /// `self - other`, `None` on overflow.
    pub fn checked_subtract(self, other: Number) -> Option<Number> {
        self.checked_add(Number {
            numerator: -other.numerator,
            denominator: other.denominator,
        })
    }

    /// `self * other`, `None` on overflow.
    pub fn checked_multiply(self, other: Number) -> Option<Number> {
        Number::ratio(
            self.numerator.checked_mul(other.numerator)?,
            self.denominator.checked_mul(other.denominator)?,
        )
    }

    /// `self / other`, `None` when `other` is zero or on overflow.
    pub fn checked_divide(self, other: Number) -> Option<Number> {
        Number::ratio(
            self.numerator.checked_mul(other.denominator)?,
            self.denominator.checked_mul(other.numerator)?,
        )
    }

    /// Python's `self // other`: the floor of the quotient.
    pub fn checked_floor_divide(self, other: Number) -> Option<Number> {
        let quotient = self.checked_divide(other)?;
        Some(Number {
            numerator: quotient.numerator.div_euclid(quotient.denominator),
            denominator: 1,
        })
    }
}

impl TryFrom<String> for Number {
    type Error = DataError;

    fn try_from(text: String) -> Result<Number, DataError> {
        Number::parse(&text)
    }
}

impl From<Number> for String {
    fn from(number: Number) -> String {
        number.to_string()
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        // Denominators are positive and small enough in practice; widen to
        // avoid overflow when they are not.
        let left = self.numerator.checked_mul(other.denominator);
        let right = other.numerator.checked_mul(self.denominator);
        match (left, right) {
            (Some(left), Some(right)) => left.cmp(&right),
            _ => self.to_f64().total_cmp(&other.to_f64()),
        }
    }
}

/// Whole numbers print as integers, terminating decimals in full (`0.25`),
/// and anything else as a fraction (`1/3`).
impl fmt::Display for Number {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_whole() {
            return write!(formatter, "{}", self.numerator);
        }
        if !self.is_finite_decimal() {
            return write!(formatter, "{}/{}", self.numerator, self.denominator);
        }
        let mut places = 0u32;
        let mut scaled = *self;
        while !scaled.is_whole() {
            scaled.numerator *= 10;
            scaled = Number::ratio(scaled.numerator, scaled.denominator).unwrap_or(scaled);
            places += 1;
        }
        let magnitude = scaled.numerator.unsigned_abs();
        let power = 10u128.pow(places);
        let sign = if scaled.numerator < 0 { "-" } else { "" };
        write!(
            formatter,
            "{sign}{}.{:0width$}",
            magnitude / power,
            magnitude % power,
            width = places as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Number;

    #[test]
    fn parses_and_prints_the_shapes_gsm8k_uses() {
        for (text, printed) in [
            ("72", "72"),
            ("1,234", "1234"),
            ("-3", "-3"),
            (".5", "0.5"),
            ("0.50", "0.5"),
            ("5.", "5"),
            ("3/4", "0.75"),
            ("-0.125", "-0.125"),
            ("1/3", "1/3"),
        ] {
            assert_eq!(Number::parse(text).unwrap().to_string(), printed, "{text}");
        }
        for bad in ["", ".", "abc", "1/0", "1.2.3", "--1"] {
            assert!(Number::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arithmetic_is_exact_and_floor_division_matches_python() {
        let tenth = Number::parse("0.1").unwrap();
        let three_tenths = tenth
            .checked_add(tenth)
            .unwrap()
            .checked_add(tenth)
            .unwrap();
        assert_eq!(three_tenths, Number::parse("0.3").unwrap());
        let seven = Number::whole(7);
        let two = Number::whole(2);
        assert_eq!(seven.checked_floor_divide(two), Some(Number::whole(3)));
        assert_eq!(
            Number::whole(-7).checked_floor_divide(two),
            Some(Number::whole(-4))
        );
        assert_eq!(seven.checked_divide(Number::whole(0)), None);
        assert!(seven.checked_divide(two).unwrap() > Number::whole(3));
    }
}
