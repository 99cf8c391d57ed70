//! [`RlConfig`]: every setting of the RL stage, deserialized from the JSON
//! the compiler writes (field names are fixed by that contract).
//!
//! Calls of the language (`ppo(...)`, `constant(0.001)`, `cosine(...)`)
//! arrive as objects tagged by `kind`. Unknown fields are refused so that a
//! compiler and a runtime that drift apart fail loudly instead of silently
//! ignoring a setting.

use serde::{Deserialize, Serialize};

use super::{KlEstimator, KlPlacement, KlSchedule, RlError};
use crate::training::{AdamWConfig, DecayKind, LearningRateSchedule, Warmup};

/// The RL stage's configuration: a seed, the steps to snapshot, and the
/// training settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlConfig {
    /// The seed of prompt order, sampling and the value head.
    pub seed: u64,
    /// Steps after which the weights are kept in `snapshots/step-<N>/`
    /// (0 = the starting weights).
    pub snapshots: Vec<u64>,
    /// The training settings.
    pub training: RlTraining,
}

/// How the policy is trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlTraining {
    /// The algorithm and its own settings.
    pub algorithm: Algorithm,
    /// Write a resumable checkpoint every this many steps (0: never).
    pub checkpoint_every: u64,
    /// The largest global gradient norm (`null`: no clipping).
    #[serde(default)]
    pub gradient_clip: Option<f64>,
    /// The KL coefficient over the steps.
    pub kl: KlSchedule,
    /// The per-token KL estimator; the algorithm's default when absent.
    #[serde(default)]
    pub kl_estimator: Option<KlEstimator>,
    /// Where the KL enters; the algorithm's default when absent.
    #[serde(default)]
    pub kl_placement: Option<KlPlacement>,
    /// The longest completion, in tokens.
    pub max_new_tokens: usize,
    /// The optimizer.
    pub optimizer: OptimizerSpec,
    /// Questions per step.
    pub prompts_per_step: usize,
    /// Completions sampled per question.
    pub samples_per_prompt: usize,
    /// The learning-rate schedule.
    pub schedule: ScheduleSpec,
    /// Steps in all.
    pub steps: u64,
    /// The sampling temperature (0: greedy).
    pub temperature: f64,
    /// Nucleus sampling: the smallest set of tokens whose probability
    /// reaches `top_p` (1: no filtering).
    pub top_p: f64,
}

/// The algorithm, with the paper's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Algorithm {
    /// PPO with a value head on the policy's trunk and GAE.
    Ppo {
        /// The ratio's clip range `epsilon`.
        clip: f64,
        /// Optimisation passes over each batch.
        epochs: u32,
        /// GAE's `lambda`.
        gae_lambda: f64,
        /// The discount `gamma`.
        gamma: f64,
        /// The value clip range.
        value_clip: f64,
        /// The value loss's weight.
        value_coefficient: f64,
    },
    /// GRPO: group-normalised advantages, a clipped ratio.
    Grpo {
        /// The ratio's clip range `epsilon`.
        clip: f64,
        /// Optimisation passes over each batch.
        epochs: u32,
    },
    /// REINFORCE with the group mean as baseline.
    Reinforce,
    /// Expert Iteration: keep correct samples, fine-tune on them.
    ExpertIteration {
        /// Rounds of sampling and fine-tuning.
        rounds: u32,
        /// Fine-tune from the starting weights each round (else continue).
        restart: bool,
        /// Passes over each round's kept samples.
        sft_epochs: u32,
        /// The fine-tuning learning rate.
        sft_lr: f64,
    },
}

impl Algorithm {
    /// The algorithm's name in metrics (`ppo`, `grpo`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::Ppo { .. } => "ppo",
            Algorithm::Grpo { .. } => "grpo",
            Algorithm::Reinforce => "reinforce",
            Algorithm::ExpertIteration { .. } => "expert_iteration",
        }
    }

    /// The paper's KL estimator for this algorithm: k3 for GRPO, else k1.
    pub fn default_kl_estimator(&self) -> KlEstimator {
        match self {
            Algorithm::Grpo { .. } => KlEstimator::K3,
            _ => KlEstimator::K1,
        }
    }

    /// The paper's KL placement: in the loss for GRPO, else in the reward.
    pub fn default_kl_placement(&self) -> KlPlacement {
        match self {
            Algorithm::Grpo { .. } => KlPlacement::Loss,
            _ => KlPlacement::Reward,
        }
    }
}

/// The optimizer as the compiler writes it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerSpec {
    /// AdamW.
    Adamw {
        /// `beta1`, `beta2`.
        betas: [f64; 2],
        /// Added to the root of the second moment.
        eps: f64,
        /// Peak learning rate.
        lr: f64,
        /// Decoupled weight decay.
        weight_decay: f64,
    },
}

impl OptimizerSpec {
    /// The optimizer's settings.
    pub fn adam_w(&self) -> AdamWConfig {
        match *self {
            OptimizerSpec::Adamw {
                betas,
                eps,
                lr,
                weight_decay,
            } => AdamWConfig {
                learning_rate: lr,
                beta1: betas[0],
                beta2: betas[1],
                epsilon: eps,
                weight_decay,
            },
        }
    }
}

/// A warmup: a number of steps or `{"fraction": f}` of all steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WarmupSpec {
    /// Steps.
    Steps(u64),
    /// A fraction of the steps.
    Fraction {
        /// The fraction, in `[0, 1]`.
        fraction: f64,
    },
}

impl WarmupSpec {
    fn warmup(self) -> Warmup {
        match self {
            WarmupSpec::Steps(steps) => Warmup::Steps(steps),
            WarmupSpec::Fraction { fraction } => Warmup::Fraction(fraction),
        }
    }
}

/// The learning-rate schedule as the compiler writes it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleSpec {
    /// Warmup, then the peak.
    Constant {
        /// The warmup.
        warmup: WarmupSpec,
    },
    /// Warmup, then a straight line to `final` times the peak.
    Linear {
        /// The end, as a fraction of the peak.
        #[serde(rename = "final")]
        final_fraction: f64,
        /// The warmup.
        warmup: WarmupSpec,
    },
    /// Warmup, then half a cosine to `final` times the peak.
    Cosine {
        /// The end, as a fraction of the peak.
        #[serde(rename = "final")]
        final_fraction: f64,
        /// The warmup.
        warmup: WarmupSpec,
    },
}

impl ScheduleSpec {
    /// The schedule in the training module's terms.
    pub fn schedule(&self) -> LearningRateSchedule {
        let (decay, warmup, final_fraction) = match *self {
            ScheduleSpec::Constant { warmup } => (DecayKind::Constant, warmup, 1.0),
            ScheduleSpec::Linear {
                final_fraction,
                warmup,
            } => (DecayKind::Linear, warmup, final_fraction),
            ScheduleSpec::Cosine {
                final_fraction,
                warmup,
            } => (DecayKind::Cosine, warmup, final_fraction),
        };
        LearningRateSchedule {
            decay,
            warmup: warmup.warmup(),
            final_fraction,
        }
    }
}

impl RlTraining {
    /// The KL estimator in use (the configured one or the algorithm's).
    pub fn estimator(&self) -> KlEstimator {
        self.kl_estimator
            .unwrap_or_else(|| self.algorithm.default_kl_estimator())
    }

    /// The KL placement in use (the configured one or the algorithm's).
    pub fn placement(&self) -> KlPlacement {
        self.kl_placement
            .unwrap_or_else(|| self.algorithm.default_kl_placement())
    }
}

impl RlConfig {
    /// Checks ranges that the types do not.
    pub fn validate(&self) -> Result<(), RlError> {
        let training = &self.training;
        let invalid = |field: &'static str, reason: &str| {
            Err(RlError::InvalidConfig {
                field,
                reason: reason.to_string(),
            })
        };
        if training.steps == 0 {
            return invalid("steps", "must be at least 1");
        }
        if let Some(step) = self.snapshots.iter().find(|step| **step > training.steps) {
            return Err(RlError::InvalidConfig {
                field: "snapshots",
                reason: format!("step {step} is after the last step {}", training.steps),
            });
        }
        if training.prompts_per_step == 0 {
            return invalid("prompts_per_step", "must be at least 1");
        }
        if training.samples_per_prompt == 0 {
            return invalid("samples_per_prompt", "must be at least 1");
        }
        if training.max_new_tokens == 0 {
            return invalid("max_new_tokens", "must be at least 1");
        }
        if !training.temperature.is_finite() || training.temperature < 0.0 {
            return invalid("temperature", "must be zero or positive");
        }
        if !(training.top_p > 0.0 && training.top_p <= 1.0) {
            return invalid("top_p", "must be in (0, 1]");
        }
        if let Some(clip) = training.gradient_clip {
            if !clip.is_finite() || clip <= 0.0 {
                return invalid("gradient_clip", "must be positive");
            }
        }
        let optimizer = training.optimizer.adam_w();
        if !optimizer.learning_rate.is_finite() || optimizer.learning_rate < 0.0 {
            return invalid("lr", "must not be negative");
        }
        for beta in [optimizer.beta1, optimizer.beta2] {
            if !(0.0..1.0).contains(&beta) {
                return invalid("betas", "must be in [0, 1)");
            }
        }
        if !optimizer.epsilon.is_finite() || optimizer.epsilon <= 0.0 {
            return invalid("eps", "must be positive");
        }
        match &training.algorithm {
            Algorithm::Ppo {
                clip,
                epochs,
                gae_lambda,
                gamma,
                value_clip,
                ..
            } => {
                if *clip <= 0.0 || *value_clip <= 0.0 {
                    return invalid("clip", "must be positive");
                }
                if *epochs == 0 {
                    return invalid("epochs", "must be at least 1");
                }
                if !(0.0..=1.0).contains(gae_lambda) || !(0.0..=1.0).contains(gamma) {
                    return invalid("gae_lambda", "`gae_lambda` and `gamma` must be in [0, 1]");
                }
            }
            Algorithm::Grpo { clip, epochs } => {
                if *clip <= 0.0 {
                    return invalid("clip", "must be positive");
                }
                if *epochs == 0 {
                    return invalid("epochs", "must be at least 1");
                }
            }
            Algorithm::Reinforce => {}
            Algorithm::ExpertIteration {
                rounds,
                sft_epochs,
                sft_lr,
                ..
            } => {
                if *rounds == 0 || u64::from(*rounds) > training.steps {
                    return invalid("rounds", "must be between 1 and `steps`");
                }
                if *sft_epochs == 0 {
                    return invalid("sft_epochs", "must be at least 1");
                }
                if !sft_lr.is_finite() || *sft_lr < 0.0 {
                    return invalid("sft_lr", "must not be negative");
                }
            }
        }
        self.training.kl.validate()
    }

    /// A blake3 digest of the configuration: a checkpoint resumes only a
    /// run with the same fingerprint (and the same inputs).
    pub fn fingerprint(&self, inputs_digest: &str) -> Result<String, RlError> {
        let mut hasher = blake3::Hasher::new();
        hasher.update(serde_json::to_string(self)?.as_bytes());
        hasher.update(inputs_digest.as_bytes());
        Ok(hasher.finalize().to_hex().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compilers_json_deserializes_and_unknown_fields_are_refused() {
        let json = r#"{ "seed": 7051273146388760, "snapshots": [0, 10, 20, 63],
          "training": {
            "algorithm": {"kind": "ppo", "clip": 0.2, "epochs": 2, "gae_lambda": 0.95, "gamma": 1.0, "value_clip": 0.2, "value_coefficient": 0.5},
            "checkpoint_every": 20, "gradient_clip": 1.0,
            "kl": {"kind": "constant", "coefficient": 0.001},
            "kl_estimator": "k1", "kl_placement": "reward",
            "max_new_tokens": 256,
            "optimizer": {"kind": "adamw", "betas": [0.9, 0.95], "eps": 1e-8, "lr": 1e-6, "weight_decay": 0.0},
            "prompts_per_step": 64, "samples_per_prompt": 8,
            "schedule": {"kind": "cosine", "final": 0.1, "warmup": {"fraction": 0.03}},
            "steps": 63, "temperature": 0.7, "top_p": 0.95 } }"#;
        let config: RlConfig = serde_json::from_str(json).unwrap();
        config.validate().unwrap();
        assert_eq!(config.training.schedule.schedule().warmup_steps(63), 2);
        assert_eq!(config.training.estimator(), KlEstimator::K1);
        for algorithm in [
            r#"{"kind":"grpo","clip":0.2,"epochs":1}"#,
            r#"{"kind":"reinforce"}"#,
            r#"{"kind":"expert_iteration","rounds":3,"restart":true,"sft_epochs":2,"sft_lr":0.0001}"#,
        ] {
            let parsed: Algorithm = serde_json::from_str(algorithm).unwrap();
            assert_eq!(
                serde_json::to_value(&parsed).unwrap(),
                serde_json::from_str::<serde_json::Value>(algorithm).unwrap()
            );
        }
        for kl in [
            r#"{"kind":"linear","start":0.1,"end":0.0}"#,
            r#"{"kind":"cosine","start":0.1,"end":0.0}"#,
            r#"{"kind":"adaptive","target":6.0,"horizon":10000,"initial":0.2}"#,
        ] {
            serde_json::from_str::<KlSchedule>(kl).unwrap();
        }
        let constant: ScheduleSpec =
            serde_json::from_str(r#"{"kind":"constant","warmup":3}"#).unwrap();
        assert_eq!(constant.schedule().warmup_steps(63), 3);
        assert!(serde_json::from_str::<Algorithm>(r#"{"kind":"grpoo","clip":0.2}"#).is_err());
        let mut late = config.clone();
        late.snapshots.push(64);
        assert!(late.validate().is_err());
        assert!(serde_json::from_str::<Algorithm>(
            r#"{"kind":"grpo","clip":0.2,"epochs":1,"x":1}"#
        )
        .is_err());
    }
}
