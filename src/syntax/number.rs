//! Numbers as `.echo` files write them: `_` separators, exponents, and the
//! suffixes `k`, `M`, `G` and `%`.
//!
//! The value is computed by shifting the decimal exponent and letting Rust
//! parse the result once, so `0.1M` is exactly 100000 and `5%` is the same
//! `f64` as `0.05`: no repeated floating-point multiplication.

use super::ast::Quantity;

/// Parses a quantity such as `8M`, `1e-3`, `2_000` or `5%`. Returns `None`
/// when the number does not fit an `f64`.
pub fn parse_quantity(text: &str) -> Option<Quantity> {
    let (body, shift, percent) = match text.chars().last() {
        Some('k') => (&text[..text.len() - 1], 3, false),
        Some('M') => (&text[..text.len() - 1], 6, false),
        Some('G') => (&text[..text.len() - 1], 9, false),
        Some('%') => (&text[..text.len() - 1], -2, true),
        _ => (text, 0, false),
    };
    let body: String = body.chars().filter(|&c| c != '_').collect();
    let written_whole = !body.contains(['.', 'e', 'E']);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(index) => (&body[..index], body[index + 1..].parse::<i64>().ok()?),
        None => (body.as_str(), 0),
    };
    let value: f64 = format!("{mantissa}e{}", exponent.checked_add(shift)?)
        .parse()
        .ok()?;
    if !value.is_finite() {
        return None;
    }
    Some(Quantity {
        text: text.to_string(),
        value,
        percent,
        whole: written_whole && !percent && value.fract() == 0.0,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_quantity;

    #[test]
    fn suffixes_scale_exactly() {
        assert_eq!(parse_quantity("8M").map(|q| q.value), Some(8e6));
        assert_eq!(parse_quantity("50k").map(|q| q.value), Some(50_000.0));
        assert_eq!(parse_quantity("0.1M").map(|q| q.value), Some(100_000.0));
        assert_eq!(parse_quantity("2G").map(|q| q.value), Some(2e9));
        assert_eq!(parse_quantity("5%").map(|q| q.value), Some(0.05));
        assert_eq!(parse_quantity("2.5%").map(|q| q.value), Some(0.025));
    }

    #[test]
    fn separators_exponents_and_signs() {
        assert_eq!(
            parse_quantity("20_250_410").map(|q| q.value),
            Some(20_250_410.0)
        );
        assert_eq!(parse_quantity("1e-3").map(|q| q.value), Some(0.001));
        assert_eq!(parse_quantity("-0.5").map(|q| q.value), Some(-0.5));
        assert_eq!(parse_quantity("1.5e2k").map(|q| q.value), Some(150_000.0));
    }

    #[test]
    fn wholeness_follows_the_spelling() {
        assert!(parse_quantity("3").is_some_and(|q| q.whole));
        assert!(parse_quantity("8M").is_some_and(|q| q.whole));
        assert!(parse_quantity("3.0").is_some_and(|q| !q.whole));
        assert!(parse_quantity("1e3").is_some_and(|q| !q.whole));
        assert!(parse_quantity("50%").is_some_and(|q| !q.whole && q.percent));
    }

    #[test]
    fn overflow_is_refused() {
        assert!(parse_quantity("1e999").is_none());
        assert!(parse_quantity("1e99999999999999999999").is_none());
    }
}
