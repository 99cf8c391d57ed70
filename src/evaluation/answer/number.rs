//! Reading one number written the way math solutions write numbers.
//!
//! Accepted, at the start of the text: an optional sign (`-`, `+`, or the
//! Unicode minus after [`normalize`]), an optional `$` (before or after the
//! sign), digits with optional thousands commas (`1,000`: every group after
//! the first exactly three digits, so `1,2` is not a number), an optional
//! decimal part (`.5`, `2.50`), then either a simple fraction (`3/4`, both
//! sides whole) or a trailing `%` (dropped: `50%` reads as 50). Also
//! `\frac{a}{b}`, `\dfrac` and `\tfrac` with numeric parts. Decimal text
//! becomes an exact [`Rational`]; only text too long for 128-bit integers
//! (about 38 digits) falls back to a float.

use super::answer::Answer;
use super::rational::Rational;

/// The number at the start of `text` and the bytes it spans, if one is there.
pub fn scan_number(text: &str) -> Option<(Answer, usize)> {
    let bytes = text.as_bytes();
    let mut index = 0;
    let mut negative = false;
    let mut signed = false;
    let sign = |index: &mut usize, negative: &mut bool| match bytes.get(*index) {
        Some(b'-') => {
            *negative = true;
            *index += 1;
            true
        }
        Some(b'+') => {
            *index += 1;
            true
        }
        _ => false,
    };
    if sign(&mut index, &mut negative) {
        signed = true;
    }
    if text[index..].starts_with("\\$") {
        index += 2;
    } else if bytes.get(index) == Some(&b'$') {
        index += 1;
    }
    if !signed {
        sign(&mut index, &mut negative);
    }
    for command in ["\\frac", "\\dfrac", "\\tfrac"] {
        if text[index..].starts_with(command) {
            let (answer, length) = scan_latex_fraction(&text[index + command.len()..])?;
            let answer = if negative { answer.negate()? } else { answer };
            return Some((answer, index + command.len() + length));
        }
    }
    let (whole, fraction_digits, after) = scan_decimal(text, index)?;
    index = after;
    let mut value = decimal_answer(&whole, &fraction_digits)?;
    if fraction_digits.is_empty() && bytes.get(index) == Some(&b'/') {
        let start = index + 1;
        let end = start + count_digits(&bytes[start..]);
        if end > start && !bytes.get(end).is_some_and(|b| *b == b'.' || *b == b'/') {
            let denominator = text[start..end].parse::<i128>().ok();
            if let (Answer::Exact(numerator), Some(denominator)) = (value, denominator) {
                let quotient = numerator.checked_divide(Rational::integer(denominator));
                if let Some(quotient) = quotient {
                    value = Answer::Exact(quotient);
                    index = end;
                }
            }
        }
    } else if text[index..].starts_with("\\%") {
        index += 2;
    } else if bytes.get(index) == Some(&b'%') {
        index += 1;
    }
    let value = if negative { value.negate()? } else { value };
    Some((value, index))
}

/// Unicode minus signs and LaTeX spacing and escapes rewritten to plain
/// text, so that `−1{,}000\,\$` reads like `-1,000 $`.
pub fn normalize(text: &str) -> String {
    let mut out = text.replace(['\u{2212}', '\u{2013}'], "-");
    for (from, to) in [
        ("{,}", ","),
        ("\\!", ""),
        ("\\,", ""),
        ("\\;", " "),
        ("\\ ", " "),
        ("\\left", ""),
        ("\\right", ""),
        ("^{\\circ}", ""),
        ("^\\circ", ""),
    ] {
        out = out.replace(from, to);
    }
    out
}

/// Digits with optional thousands commas and a decimal part, starting at
/// `index`: the whole digits, the fraction digits, and where it ends.
fn scan_decimal(text: &str, mut index: usize) -> Option<(String, String, usize)> {
    let bytes = text.as_bytes();
    let first = count_digits(&bytes[index..]);
    let mut whole = text[index..index + first].to_string();
    index += first;
    if first > 0 && first <= 3 {
        // Thousands groups: `,ddd` not followed by another digit.
        while bytes.get(index) == Some(&b',') && count_digits(&bytes[index + 1..]) == 3 {
            whole.push_str(&text[index + 1..index + 4]);
            index += 4;
        }
    }
    let mut fraction = String::new();
    if bytes.get(index) == Some(&b'.') && bytes.get(index + 1).is_some_and(u8::is_ascii_digit) {
        let length = count_digits(&bytes[index + 1..]);
        fraction = text[index + 1..index + 1 + length].to_string();
        index += 1 + length;
    }
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    Some((whole, fraction, index))
}

/// `\frac{a}{b}` after the command name: the value and the bytes spanned.
fn scan_latex_fraction(text: &str) -> Option<(Answer, usize)> {
    let (numerator, first_length) = braced_number(text)?;
    let (denominator, second_length) = braced_number(&text[first_length..])?;
    let value = match (numerator, denominator) {
        (Answer::Exact(numerator), Answer::Exact(denominator)) => {
            Answer::Exact(numerator.checked_divide(denominator)?)
        }
        (numerator, denominator) => {
            let value = numerator.to_f64() / denominator.to_f64();
            if !value.is_finite() {
                return None;
            }
            Answer::Approximate(value)
        }
    };
    Some((value, first_length + second_length))
}

/// `{number}` (or a single digit, as in `\frac12`) at the start of `text`.
fn braced_number(text: &str) -> Option<(Answer, usize)> {
    let bytes = text.as_bytes();
    if bytes.first().is_some_and(u8::is_ascii_digit) {
        return Some((
            Answer::Exact(Rational::integer(i128::from(bytes[0] - b'0'))),
            1,
        ));
    }
    let inner = text.strip_prefix('{')?;
    let close = inner.find('}')?;
    let content = inner[..close].trim();
    let (value, length) = scan_number(content)?;
    if length != content.len() {
        return None;
    }
    Some((value, close + 2))
}

fn count_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// The exact value of `whole.fraction`, or a float when too long.
fn decimal_answer(whole: &str, fraction: &str) -> Option<Answer> {
    let digits = format!("{whole}{fraction}");
    let significant = digits.trim_start_matches('0');
    let numerator = if significant.is_empty() {
        Some(0)
    } else {
        significant.parse::<i128>().ok()
    };
    let denominator = 10i128.checked_pow(u32::try_from(fraction.len()).unwrap_or(u32::MAX));
    if let (Some(numerator), Some(denominator)) = (numerator, denominator) {
        if let Some(exact) = Rational::new(numerator, denominator) {
            return Some(Answer::Exact(exact));
        }
    }
    let value: f64 = format!(
        "{}.{}",
        if whole.is_empty() { "0" } else { whole },
        fraction
    )
    .parse()
    .ok()?;
    value.is_finite().then_some(Answer::Approximate(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(numerator: i128, denominator: i128) -> Answer {
        Answer::Exact(Rational::new(numerator, denominator).unwrap())
    }

    #[test]
    fn scans_the_written_forms_of_numbers() {
        let cases = [
            ("18", exact(18, 1), 2),
            ("1,000,000 eggs", exact(1_000_000, 1), 9),
            ("$1,234.50.", exact(123_450, 100), 9),
            ("-$5", exact(-5, 1), 3),
            ("$-5", exact(-5, 1), 3),
            ("\\$12", exact(12, 1), 4),
            ("3/4 of", exact(3, 4), 3),
            ("-\\frac{3}{4}", exact(-3, 4), 12),
            ("\\dfrac{1.5}{3}", exact(1, 2), 14),
            ("\\frac12", exact(1, 2), 7),
            ("50%", exact(50, 1), 3),
            ("12\\%", exact(12, 1), 4),
            (".5", exact(1, 2), 2),
            ("007", exact(7, 1), 3),
        ];
        for (text, expected, length) in cases {
            assert_eq!(
                scan_number(text),
                Some((expected, length)),
                "scanning {text:?}"
            );
        }
    }

    #[test]
    fn commas_only_group_thousands() {
        assert_eq!(scan_number("1,2"), Some((exact(1, 1), 1)));
        assert_eq!(scan_number("1,0000"), Some((exact(1, 1), 1)));
        assert_eq!(scan_number("1234,567"), Some((exact(1234, 1), 4)));
    }

    #[test]
    fn non_numbers_and_zero_denominators() {
        assert_eq!(scan_number("abc"), None);
        assert_eq!(scan_number("-"), None);
        assert_eq!(scan_number("$"), None);
        assert_eq!(scan_number("\\frac{1}{0}"), None);
        assert_eq!(scan_number("3/0"), Some((exact(3, 1), 1)));
    }

    #[test]
    fn every_printed_exact_answer_reads_back() {
        // Regression: 37- and 38-digit numerators once fell back to floats,
        // so a printed fraction did not read back as one number.
        let wide = Answer::Exact(Rational::new(i128::MAX, 7).unwrap());
        let text = wide.to_string();
        assert_eq!(scan_number(&text), Some((wide, text.len())));
        let huge_denominator = format!("5/{}", "9".repeat(45));
        assert_eq!(scan_number(&huge_denominator), Some((exact(5, 1), 1)));
    }

    #[test]
    fn very_long_numbers_fall_back_to_floats() {
        let long = "1".repeat(60);
        let (value, length) = scan_number(&long).unwrap();
        assert_eq!(length, 60);
        assert!(matches!(value, Answer::Approximate(x) if (x - 1.111e59).abs() < 1e57));
    }
}
