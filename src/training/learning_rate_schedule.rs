//! [`LearningRateSchedule`]: warmup, then constant, linear or cosine decay.

use serde::{Deserialize, Serialize};

/// The shape of the decay after warmup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecayKind {
    /// Stays at the peak.
    Constant,
    /// Falls on a straight line to `final_fraction` of the peak.
    Linear,
    /// Falls on half a cosine to `final_fraction` of the peak.
    Cosine,
}

/// The length of the warmup.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Warmup {
    /// A number of steps.
    Steps(u64),
    /// A fraction of the total steps, rounded to the nearest step.
    Fraction(f64),
}

/// The learning rate as a multiple of the peak, step by step.
///
/// With `w` warmup steps and `n` steps in all, step `s` (counted from 0)
/// uses `(s + 1) / w` of the peak while `s < w` (so the first step is not
/// wasted at zero); afterwards the decay runs over progress
/// `p = (s - w) / (n - w)`, from `p = 0` at the first step after warmup:
/// constant `1`, linear `1 - (1 - f) p`, cosine
/// `f + (1 - f) (1 + cos(pi p)) / 2`, where `f` is `final_fraction`. The
/// last step therefore sits just above `f`, which is reached at `p = 1`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearningRateSchedule {
    /// The decay after warmup.
    pub decay: DecayKind,
    /// The warmup.
    pub warmup: Warmup,
    /// Where the decay ends, as a fraction of the peak.
    pub final_fraction: f64,
}

impl LearningRateSchedule {
    /// The number of warmup steps out of `total_steps`.
    pub fn warmup_steps(&self, total_steps: u64) -> u64 {
        let steps = match self.warmup {
            Warmup::Steps(steps) => steps,
            Warmup::Fraction(fraction) => (fraction * total_steps as f64).round() as u64,
        };
        steps.min(total_steps)
    }

    /// The multiple of the peak learning rate at `step` (from 0) of
    /// `total_steps`.
    pub fn factor(&self, step: u64, total_steps: u64) -> f64 {
        let warmup = self.warmup_steps(total_steps);
        if step < warmup {
            return (step + 1) as f64 / warmup as f64;
        }
        let decay_steps = total_steps.saturating_sub(warmup).max(1);
        let progress = ((step - warmup) as f64 / decay_steps as f64).min(1.0);
        let floor = self.final_fraction;
        match self.decay {
            DecayKind::Constant => 1.0,
            DecayKind::Linear => 1.0 - (1.0 - floor) * progress,
            DecayKind::Cosine => {
                floor + (1.0 - floor) * 0.5 * (1.0 + libm::cos(std::f64::consts::PI * progress))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(decay: DecayKind, warmup: Warmup) -> LearningRateSchedule {
        LearningRateSchedule {
            decay,
            warmup,
            final_fraction: 0.1,
        }
    }

    #[test]
    fn warmup_rises_linearly_from_the_first_step() {
        let cosine = schedule(DecayKind::Cosine, Warmup::Steps(4));
        let rising: Vec<f64> = (0..4).map(|step| cosine.factor(step, 104)).collect();
        assert_eq!(rising, vec![0.25, 0.5, 0.75, 1.0]);
        // 2% of 150 steps is 3 warmup steps.
        assert_eq!(
            schedule(DecayKind::Constant, Warmup::Fraction(0.02)).warmup_steps(150),
            3
        );
    }

    #[test]
    fn decays_reach_the_hand_computed_points() {
        // 4 warmup steps, 100 decay steps: step 54 is half way, step 104 the end.
        let cosine = schedule(DecayKind::Cosine, Warmup::Steps(4));
        assert!((cosine.factor(4, 104) - 1.0).abs() < 1e-12);
        assert!((cosine.factor(54, 104) - 0.55).abs() < 1e-12);
        // Quarter way: 0.1 + 0.9 * (1 + cos(pi / 4)) / 2.
        assert!((cosine.factor(29, 104) - (0.1 + 0.45 * (1.0 + 0.5f64.sqrt()))).abs() < 1e-12);
        assert!((cosine.factor(104, 104) - 0.1).abs() < 1e-12);
        let linear = schedule(DecayKind::Linear, Warmup::Steps(4));
        assert!((linear.factor(54, 104) - 0.55).abs() < 1e-12);
        assert!((linear.factor(79, 104) - 0.325).abs() < 1e-12);
        let constant = schedule(DecayKind::Constant, Warmup::Steps(0));
        assert_eq!(constant.factor(0, 10), 1.0);
        assert_eq!(constant.factor(9, 10), 1.0);
    }
}
