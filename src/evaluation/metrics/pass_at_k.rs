//! [`pass_at_k`]: the unbiased pass@k estimator from n samples.

/// Why a metric cannot be computed from its inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    /// `k` is zero or larger than the number of samples.
    #[error("`k` is {k} but must be between 1 and the {samples} samples")]
    BadK {
        /// The `k` asked for.
        k: usize,
        /// How many samples there are.
        samples: usize,
    },
    /// More correct samples than samples.
    #[error("{correct} correct out of only {samples} samples")]
    TooManyCorrect {
        /// Correct samples claimed.
        correct: usize,
        /// Samples.
        samples: usize,
    },
}

/// The probability that at least one of `k` samples drawn without
/// replacement from `samples` samples, `correct` of them correct, is
/// correct: `1 - C(samples - correct, k) / C(samples, k)` (Chen et al.,
/// 2021).
///
/// Computed as `1 - prod_{i = samples - correct + 1}^{samples} (1 - k / i)`,
/// a product of numbers in `[0, 1]`, which neither overflows like the
/// binomial coefficients nor cancels badly.
pub fn pass_at_k(samples: usize, correct: usize, k: usize) -> Result<f64, MetricError> {
    if k == 0 || k > samples {
        return Err(MetricError::BadK { k, samples });
    }
    if correct > samples {
        return Err(MetricError::TooManyCorrect { correct, samples });
    }
    let incorrect = samples - correct;
    if incorrect < k {
        return Ok(1.0);
    }
    let all_incorrect: f64 = (incorrect + 1..=samples)
        .map(|i| 1.0 - k as f64 / i as f64)
        .product();
    Ok(1.0 - all_incorrect)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fraction of all k-subsets of n samples (the first c correct)
    /// that hold a correct sample, by enumerating the subsets as bit masks.
    fn brute_force(samples: usize, correct: usize, k: usize) -> f64 {
        let correct_mask = (1u32 << correct) - 1;
        let (mut subsets, mut passing) = (0u32, 0u32);
        for mask in 0u32..(1 << samples) {
            if mask.count_ones() as usize == k {
                subsets += 1;
                if mask & correct_mask != 0 {
                    passing += 1;
                }
            }
        }
        f64::from(passing) / f64::from(subsets)
    }

    #[test]
    fn matches_enumeration_over_every_subset() {
        for samples in 1..=12 {
            for correct in 0..=samples {
                for k in 1..=samples {
                    let estimate = pass_at_k(samples, correct, k).unwrap();
                    let exact = brute_force(samples, correct, k);
                    assert!(
                        (estimate - exact).abs() < 1e-12,
                        "n={samples} c={correct} k={k}: {estimate} vs {exact}"
                    );
                }
            }
        }
    }

    #[test]
    fn hand_computed_values_and_large_n() {
        // n = 4, c = 1, k = 2: 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5.
        assert_eq!(pass_at_k(4, 1, 2), Ok(0.5));
        // pass@1 is the fraction correct.
        assert!((pass_at_k(64, 16, 1).unwrap() - 0.25).abs() < 1e-15);
        // n = 1000 would overflow C(n, k) as integers; the product is fine.
        let value = pass_at_k(1000, 1, 500).unwrap();
        assert!((value - 0.5).abs() < 1e-12, "{value}");
        assert_eq!(pass_at_k(8, 0, 8), Ok(0.0));
    }

    #[test]
    fn rejects_impossible_inputs() {
        assert_eq!(
            pass_at_k(4, 1, 0),
            Err(MetricError::BadK { k: 0, samples: 4 })
        );
        assert_eq!(
            pass_at_k(4, 1, 5),
            Err(MetricError::BadK { k: 5, samples: 4 })
        );
        assert_eq!(
            pass_at_k(4, 5, 2),
            Err(MetricError::TooManyCorrect {
                correct: 5,
                samples: 4
            })
        );
    }
}
