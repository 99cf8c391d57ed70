//! [`Rational`]: an exact fraction, so that `0.5` and `1/2` are the same.

/// A reduced fraction with a positive denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rational {
    numerator: i128,
    denominator: i128,
}

impl Rational {
    /// `numerator / denominator` reduced; `None` when the denominator is
    /// zero or reducing would overflow.
    pub fn new(numerator: i128, denominator: i128) -> Option<Rational> {
        if denominator == 0 {
            return None;
        }
        let divisor = greatest_common_divisor(numerator.unsigned_abs(), denominator.unsigned_abs());
        let divisor = i128::try_from(divisor).ok()?;
        let (mut numerator, mut denominator) = (numerator / divisor, denominator / divisor);
        if denominator < 0 {
            numerator = numerator.checked_neg()?;
            denominator = denominator.checked_neg()?;
        }
        Some(Rational {
            numerator,
            denominator,
        })
    }

    /// The integer `value`.
    pub fn integer(value: i128) -> Rational {
        Rational {
            numerator: value,
            denominator: 1,
        }
    }

    /// The numerator (sign included).
    pub fn numerator(self) -> i128 {
        self.numerator
    }

    /// The denominator (always positive).
    pub fn denominator(self) -> i128 {
        self.denominator
    }

    /// `self / other`, if representable.
    pub fn checked_divide(self, other: Rational) -> Option<Rational> {
        Rational::new(
            self.numerator.checked_mul(other.denominator)?,
            self.denominator.checked_mul(other.numerator)?,
        )
    }

    /// The nearest float.
    pub fn to_f64(self) -> f64 {
        self.numerator as f64 / self.denominator as f64
    }

    /// The value negated.
    pub fn checked_negate(self) -> Option<Rational> {
        Rational::new(self.numerator.checked_neg()?, self.denominator)
    }
}

impl std::fmt::Display for Rational {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.denominator == 1 {
            write!(formatter, "{}", self.numerator)
        } else {
            write!(formatter, "{}/{}", self.numerator, self.denominator)
        }
    }
}

fn greatest_common_divisor(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_are_reduced_with_a_positive_denominator() {
        let half = Rational::new(-3, -6).unwrap();
        assert_eq!((half.numerator(), half.denominator()), (1, 2));
        assert_eq!(Rational::new(4, -8), Rational::new(-1, 2));
        assert_eq!(Rational::new(0, 5), Some(Rational::integer(0)));
        assert_eq!(Rational::new(1, 0), None);
        assert_eq!(Rational::new(i128::MIN, -1), None);
        assert_eq!(Rational::new(6, 4).unwrap().to_string(), "3/2");
    }
}
