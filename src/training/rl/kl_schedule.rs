//! [`KlSchedule`] and [`KlController`]: the KL coefficient step by step.
//!
//! Fixed schedules are pure functions of the step; the adaptive one is the
//! controller of Ziegler et al. (2019), whose coefficient is state that a
//! checkpoint saves.

use serde::{Deserialize, Serialize};

use super::RlError;

/// How the KL coefficient evolves over the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum KlSchedule {
    /// The same coefficient at every step.
    Constant {
        /// The coefficient.
        coefficient: f64,
    },
    /// A straight line from `start` at the first step to `end` at the last.
    Linear {
        /// The first step's coefficient.
        start: f64,
        /// The last step's coefficient.
        end: f64,
    },
    /// Half a cosine from `start` at the first step to `end` at the last.
    Cosine {
        /// The first step's coefficient.
        start: f64,
        /// The last step's coefficient.
        end: f64,
    },
    /// Ziegler et al.'s controller: after each step,
    /// `coefficient *= 1 + clip((kl - target) / target, -0.2, 0.2) * n / horizon`
    /// with `kl` the step's measured KL and `n` its number of samples.
    Adaptive {
        /// The KL aimed at.
        target: f64,
        /// How many samples the controller takes to close the gap.
        horizon: f64,
        /// The first step's coefficient.
        initial: f64,
    },
}

impl KlSchedule {
    /// Checks that coefficients are finite and not negative.
    pub fn validate(&self) -> Result<(), RlError> {
        let values: &[f64] = match self {
            KlSchedule::Constant { coefficient } => &[*coefficient],
            KlSchedule::Linear { start, end } | KlSchedule::Cosine { start, end } => {
                &[*start, *end]
            }
            KlSchedule::Adaptive {
                target,
                horizon,
                initial,
            } => {
                if *target <= 0.0 || *horizon <= 0.0 {
                    return Err(RlError::InvalidConfig {
                        field: "kl",
                        reason: "`target` and `horizon` must be positive".into(),
                    });
                }
                &[*initial]
            }
        };
        if values
            .iter()
            .any(|value| !value.is_finite() || *value < 0.0)
        {
            return Err(RlError::InvalidConfig {
                field: "kl",
                reason: "coefficients must be finite and not negative".into(),
            });
        }
        Ok(())
    }
}

/// The KL coefficient of a run: the schedule plus the adaptive state.
#[derive(Debug, Clone, PartialEq)]
pub struct KlController {
    schedule: KlSchedule,
    total_steps: u64,
    adaptive_coefficient: f64,
}

impl KlController {
    /// A controller for a run of `total_steps` steps.
    pub fn new(schedule: KlSchedule, total_steps: u64) -> Self {
        let adaptive_coefficient = match schedule {
            KlSchedule::Adaptive { initial, .. } => initial,
            _ => 0.0,
        };
        KlController {
            schedule,
            total_steps,
            adaptive_coefficient,
        }
    }

    /// The coefficient at `step` (from 0).
    pub fn coefficient(&self, step: u64) -> f64 {
        let progress = step as f64 / self.total_steps.saturating_sub(1).max(1) as f64;
        let progress = progress.min(1.0);
        match self.schedule {
            KlSchedule::Constant { coefficient } => coefficient,
            KlSchedule::Linear { start, end } => start + (end - start) * progress,
            KlSchedule::Cosine { start, end } => {
                end + (start - end) * 0.5 * (1.0 + libm::cos(std::f64::consts::PI * progress))
            }
            KlSchedule::Adaptive { .. } => self.adaptive_coefficient,
        }
    }

    /// Feeds the KL measured over `samples` samples of a step to the
    /// adaptive controller (fixed schedules ignore it).
    pub fn update(&mut self, measured_kl: f64, samples: usize) {
        if let KlSchedule::Adaptive {
            target, horizon, ..
        } = self.schedule
        {
            let error = ((measured_kl - target) / target).clamp(-0.2, 0.2);
            self.adaptive_coefficient *= 1.0 + error * samples as f64 / horizon;
        }
    }

    /// The state a checkpoint saves (the adaptive coefficient).
    pub fn state(&self) -> f64 {
        self.adaptive_coefficient
    }

    /// Restores [`KlController::state`].
    pub fn restore(&mut self, state: f64) {
        self.adaptive_coefficient = state;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_schedules_reach_their_ends() {
        let linear = KlController::new(
            KlSchedule::Linear {
                start: 0.1,
                end: 0.0,
            },
            11,
        );
        assert!((linear.coefficient(0) - 0.1).abs() < 1e-15);
        assert!((linear.coefficient(5) - 0.05).abs() < 1e-15);
        assert!(linear.coefficient(10).abs() < 1e-15);
        let cosine = KlController::new(
            KlSchedule::Cosine {
                start: 0.2,
                end: 0.0,
            },
            11,
        );
        assert!((cosine.coefficient(0) - 0.2).abs() < 1e-15);
        assert!((cosine.coefficient(5) - 0.1).abs() < 1e-12);
        assert!(cosine.coefficient(10).abs() < 1e-15);
        let constant = KlController::new(KlSchedule::Constant { coefficient: 0.01 }, 3);
        assert_eq!(constant.coefficient(2), 0.01);
    }

    #[test]
    fn the_adaptive_controller_follows_ziegler_et_al() {
        let schedule = KlSchedule::Adaptive {
            target: 6.0,
            horizon: 10_000.0,
            initial: 0.2,
        };
        let mut controller = KlController::new(schedule, 100);
        // KL 9 is 50% above target: the error is clipped to 0.2.
        controller.update(9.0, 512);
        let after_high = 0.2 * (1.0 + 0.2 * 512.0 / 10_000.0);
        assert!((controller.coefficient(1) - after_high).abs() < 1e-15);
        // KL 5.4 is 10% below target: not clipped.
        controller.update(5.4, 1000);
        let after_low = after_high * (1.0 - 0.1 * 1000.0 / 10_000.0);
        assert!((controller.coefficient(2) - after_low).abs() < 1e-15);
        let mut restored = KlController::new(schedule, 100);
        restored.restore(controller.state());
        assert_eq!(restored, controller);
    }
}
