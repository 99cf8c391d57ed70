//! [`ReplicateSpread`]: what the replicates of one measurement say together.

/// The mean, minimum and maximum of one measurement over the replicates
/// that define it (undefined values are left out).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplicateSpread {
    /// The mean over replicates.
    pub mean: f64,
    /// The smallest replicate's value.
    pub minimum: f64,
    /// The largest replicate's value.
    pub maximum: f64,
    /// How many replicates had a value.
    pub count: usize,
}

impl ReplicateSpread {
    /// The spread of `values`, `None` when there is none. Values are summed
    /// in the order given, so the same values in the same order give the
    /// same bits.
    pub fn of(values: &[f64]) -> Option<ReplicateSpread> {
        let first = *values.first()?;
        let mut sum = 0.0;
        let mut minimum = first;
        let mut maximum = first;
        for &value in values {
            sum += value;
            minimum = minimum.min(value);
            maximum = maximum.max(value);
        }
        Some(ReplicateSpread {
            mean: sum / values.len() as f64,
            minimum,
            maximum,
            count: values.len(),
        })
    }

    /// Whether the replicates disagree (a band is worth drawing).
    pub fn has_spread(&self) -> bool {
        self.maximum > self.minimum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_minimum_and_maximum_of_three_replicates() {
        let spread = ReplicateSpread::of(&[0.25, 0.75, 0.5]).unwrap();
        assert_eq!(spread.mean, 0.5);
        assert_eq!(spread.minimum, 0.25);
        assert_eq!(spread.maximum, 0.75);
        assert_eq!(spread.count, 3);
        assert!(spread.has_spread());
    }

    #[test]
    fn one_replicate_has_no_spread_and_none_has_no_value() {
        let spread = ReplicateSpread::of(&[0.3375]).unwrap();
        assert_eq!(
            (spread.mean, spread.minimum, spread.maximum),
            (0.3375, 0.3375, 0.3375)
        );
        assert!(!spread.has_spread());
        assert_eq!(ReplicateSpread::of(&[]), None);
    }
}
