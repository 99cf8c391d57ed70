//! [`EvalConfig`]: the settings of the evaluation stage, deserialized from
//! the JSON the compiler writes (field names are fixed by that contract).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::EvaluateError;

/// What to evaluate: which checkpoints, how, with which metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// How answers are sampled and measured.
    pub evaluation: EvaluationSettings,
    /// Whether the checkpoints are RL snapshots or one pretrained model.
    pub model_kind: ModelKind,
    /// The seed of the sampling streams.
    pub seed: u64,
    /// The RL snapshot steps to evaluate; empty for a pretrained model,
    /// whose single checkpoint is evaluated as step 0.
    pub steps: Vec<u64>,
}

/// Where the checkpoints come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// A pretraining stage's final model.
    Pretrain,
    /// An RL stage's snapshots.
    Rl,
}

/// Sampling and metric settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationSettings {
    /// When the experiment evaluates (`{"kind": "every", "interval": 10}`);
    /// informative only, `steps` is what is evaluated.
    pub at: serde_json::Value,
    /// The longest answer, in tokens.
    pub max_new_tokens: usize,
    /// The metrics to report, by name.
    pub metrics: Vec<Metric>,
    /// The first this many problems of each set are asked.
    pub problems: usize,
    /// Sampled answers per problem.
    pub samples: usize,
    /// The sampling temperature.
    pub temperature: f64,
    /// The nucleus sampling threshold.
    pub top_p: f64,
}

/// One metric, named as in the experiment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Metric {
    /// `pass@1`: greedy decoding, the fraction of problems solved.
    PassAtOne,
    /// `forced_pass@1`: per format, greedy decoding with the answer forced
    /// into that format, the fraction of problems solved in it.
    ForcedPassAtOne,
    /// `pass@k` (k > 1): the unbiased estimator from the samples.
    PassAtK(usize),
    /// `maj@k`: majority vote over the first k samples.
    MajorityAtK(usize),
    /// `format_share`: the share of samples in each format.
    FormatShare,
    /// `format_accuracy`: the accuracy within each format.
    FormatAccuracy,
    /// `length`: mean answer length in tokens (EOS not counted).
    Length,
    /// `entropy`: mean per-token entropy of the model's distribution.
    Entropy,
    /// `kl`: KL to the reference model, estimated on the samples.
    Kl,
}

impl FromStr for Metric {
    type Err = EvaluateError;

    fn from_str(name: &str) -> Result<Metric, EvaluateError> {
        let unknown = || EvaluateError::UnknownMetric {
            name: name.to_string(),
        };
        let count = |digits: &str| -> Result<usize, EvaluateError> {
            digits
                .parse::<usize>()
                .ok()
                .filter(|k| *k > 0)
                .ok_or_else(unknown)
        };
        Ok(match name {
            "pass@1" => Metric::PassAtOne,
            "forced_pass@1" => Metric::ForcedPassAtOne,
            "format_share" => Metric::FormatShare,
            "format_accuracy" => Metric::FormatAccuracy,
            "length" => Metric::Length,
            "entropy" => Metric::Entropy,
            "kl" => Metric::Kl,
            _ => {
                if let Some(digits) = name.strip_prefix("pass@") {
                    Metric::PassAtK(count(digits)?)
                } else if let Some(digits) = name.strip_prefix("maj@") {
                    Metric::MajorityAtK(count(digits)?)
                } else {
                    return Err(unknown());
                }
            }
        })
    }
}

impl TryFrom<String> for Metric {
    type Error = EvaluateError;

    fn try_from(name: String) -> Result<Metric, EvaluateError> {
        name.parse()
    }
}

impl From<Metric> for String {
    fn from(metric: Metric) -> String {
        metric.name()
    }
}

impl Metric {
    /// The metric's name in `metrics.jsonl`.
    pub fn name(self) -> String {
        match self {
            Metric::PassAtOne => "pass@1".into(),
            Metric::ForcedPassAtOne => "forced_pass@1".into(),
            Metric::PassAtK(k) => format!("pass@{k}"),
            Metric::MajorityAtK(k) => format!("maj@{k}"),
            Metric::FormatShare => "format_share".into(),
            Metric::FormatAccuracy => "format_accuracy".into(),
            Metric::Length => "length".into(),
            Metric::Entropy => "entropy".into(),
            Metric::Kl => "kl".into(),
        }
    }

    /// Whether the metric needs sampled answers (all but the greedy
    /// `pass@1` and `forced_pass@1`).
    pub fn needs_samples(self) -> bool {
        !matches!(self, Metric::PassAtOne | Metric::ForcedPassAtOne)
    }
}

impl EvalConfig {
    /// Checks ranges that the types do not.
    pub fn validate(&self) -> Result<(), EvaluateError> {
        let settings = &self.evaluation;
        let invalid = |field: &'static str, reason: String| {
            Err(EvaluateError::InvalidConfig { field, reason })
        };
        if settings.problems == 0 {
            return invalid("problems", "must be at least 1".into());
        }
        if settings.max_new_tokens == 0 {
            return invalid("max_new_tokens", "must be at least 1".into());
        }
        if !settings.temperature.is_finite() || settings.temperature < 0.0 {
            return invalid("temperature", "must be zero or positive".into());
        }
        if !(settings.top_p > 0.0 && settings.top_p <= 1.0) {
            return invalid("top_p", "must be in (0, 1]".into());
        }
        for metric in &settings.metrics {
            if let Metric::PassAtK(k) | Metric::MajorityAtK(k) = metric {
                if *k > settings.samples {
                    return invalid(
                        "metrics",
                        format!(
                            "`{}` needs at least {k} samples, but `samples` is {}",
                            metric.name(),
                            settings.samples
                        ),
                    );
                }
            }
            if metric.needs_samples() && settings.samples == 0 {
                return invalid(
                    "samples",
                    format!("`{}` needs at least one sample", metric.name()),
                );
            }
        }
        if self.model_kind == ModelKind::Pretrain && !self.steps.is_empty() {
            return invalid("steps", "a pretrained model has no steps".into());
        }
        Ok(())
    }

    /// The steps evaluated: `steps`, or `[0]` for a pretrained model.
    pub fn evaluated_steps(&self) -> Vec<u64> {
        match self.model_kind {
            ModelKind::Pretrain => vec![0],
            ModelKind::Rl => self.steps.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compilers_json_deserializes() {
        let json = r#"{ "evaluation": {"at": {"kind": "every", "interval": 10}, "max_new_tokens": 200,
             "metrics": ["pass@1", "pass@64", "maj@64", "format_share", "format_accuracy", "length", "entropy", "kl", "forced_pass@1"],
             "problems": 100, "samples": 64, "temperature": 0.7, "top_p": 0.95},
          "model_kind": "rl", "seed": 7051273146388760, "steps": [0, 10, 20, 63] }"#;
        let config: EvalConfig = serde_json::from_str(json).unwrap();
        config.validate().unwrap();
        assert_eq!(
            config.evaluation.metrics[..3],
            [
                Metric::PassAtOne,
                Metric::PassAtK(64),
                Metric::MajorityAtK(64)
            ]
        );
        assert_eq!(config.evaluated_steps(), vec![0, 10, 20, 63]);
        let round_trip: serde_json::Value = serde_json::to_value(&config).unwrap();
        assert_eq!(round_trip["evaluation"]["metrics"][2], "maj@64");
        assert_eq!(config.evaluation.metrics[8], Metric::ForcedPassAtOne);
        assert!(!Metric::ForcedPassAtOne.needs_samples());
        assert_eq!(round_trip["evaluation"]["metrics"][8], "forced_pass@1");
        for bad in [
            "pass@0",
            "pass@",
            "maj@x",
            "accuracy",
            "forced_pass@2",
            "forced_pass@0",
        ] {
            assert!(bad.parse::<Metric>().is_err(), "{bad}");
        }
        let mut too_many = config.clone();
        too_many.evaluation.metrics = vec![Metric::PassAtK(65)];
        assert!(too_many.validate().is_err());
    }
}
