//! [`Stage`] and [`Plan`]: the nodes of the graph and the graph.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::InputDigest;

/// A stage's key: 64 hex digits of blake3.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StageKey(pub String);

impl StageKey {
    /// The first 12 hex digits, for display.
    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(12)]
    }
}

impl fmt::Display for StageKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// What a stage computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    /// Generates or loads one source's documents.
    Data,
    /// Builds a tokenizer from a pretraining mixture's documents.
    Tokenizer,
    /// Trains a model from scratch.
    Pretrain,
    /// Fine-tunes a checkpoint with reinforcement learning.
    Rl,
    /// Measures a trained stage's checkpoints.
    Eval,
    /// Draws the charts and tables of evaluations.
    Report,
}

impl StageKind {
    /// The kind's name in lockfiles and messages.
    pub fn name(self) -> &'static str {
        match self {
            StageKind::Data => "data",
            StageKind::Tokenizer => "tokenizer",
            StageKind::Pretrain => "pretrain",
            StageKind::Rl => "rl",
            StageKind::Eval => "eval",
            StageKind::Report => "report",
        }
    }

    /// The version of what this kind of stage computes. Bump it whenever a
    /// change to echolab changes the bytes this kind of stage produces from
    /// the same parameters: every key of this kind changes with it.
    pub fn semantics_version(self) -> u32 {
        match self {
            StageKind::Data => 1,
            StageKind::Tokenizer => 1,
            // 2: fused CPU kernels round differently than candle's ops.
            // 3: row sums (softmax, norms, the loss's normaliser) in a fixed
            // lane order that vectorises; log, exp and cos from the `libm`
            // crate instead of the platform's; the sampler draws from the
            // untempered weights in token order (no sort without top-p); RL
            // log-probabilities through the fused kernel; PPO's value head
            // through the fused linear map.
            StageKind::Pretrain => 3,
            // RL 4: `metrics.jsonl` has the per-step diagnostics (issue #23):
            // reward spread, truncation, entropy, KL per token, advantages,
            // equal-reward groups and each format's samples. Training is
            // unchanged bit for bit.
            StageKind::Rl => 4,
            StageKind::Eval => 3,
            // 2: metrics values are parsed correctly rounded (serde_json's
            // `float_roundtrip`), so `metrics.csv` repeats them exactly.
            // 3: charts (SVG, PNG) and `report.html` besides `metrics.csv`.
            // 4: a panel title too long for its panel is cut with an ellipsis.
            // 5: `report.html` has the numbers at the first and last step.
            // 6: the winner chart and table show the forced accuracy; bar
            // labels stand above the whiskers.
            // 7: a legend wider than its figure wraps; bar panels leave
            // room above 1 for labels.
            // 8: a replicate's accuracy within a format under 1% of its
            // answers is left out of the charts.
            // 9: the winner chart's caption says so (8's lockfiles recorded
            // the page before its caption changed).
            // 10: the `training` chart, from the RL stages' own metrics
            // (which the report now reads).
            // 11: panels up to 560 pixels wide when there are few columns;
            // a segment lying on a line drawn before it is dashed; an axis
            // with nothing above 0 spans 0 to 1.
            StageKind::Report => 11,
        }
    }
}

impl fmt::Display for StageKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// One stage of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// Its name, unique in the plan: the definition's name, with the sweep
    /// values and replicate that tell it apart (`tuned[kl=constant(0.01)]#1`).
    pub name: String,
    /// What it computes.
    pub kind: StageKind,
    /// Its key.
    pub key: StageKey,
    /// Its canonical parameters (every default filled in): in the key.
    pub parameters: serde_json::Value,
    /// How to run it, which cannot change its outputs (how often to
    /// checkpoint): not in the key.
    pub settings: serde_json::Value,
    /// The stages it reads, by role (`from`, `tokenizer`, `data.0`, ...).
    pub upstream: BTreeMap<String, StageKey>,
    /// The files it reads, by path relative to the experiment file.
    pub inputs: BTreeMap<String, InputDigest>,
}

/// The stages of one experiment, upstream before downstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The experiment's name.
    pub experiment: String,
    /// Every stage, in an order where each comes after its upstream stages.
    pub stages: Vec<Stage>,
}

impl Plan {
    /// The stage with this key.
    pub fn stage(&self, key: &StageKey) -> Option<&Stage> {
        self.stages.iter().find(|stage| &stage.key == key)
    }

    /// The stage with this name.
    pub fn named(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|stage| stage.name == name)
    }

    /// Every file any stage reads.
    pub fn inputs(&self) -> BTreeMap<String, InputDigest> {
        self.stages
            .iter()
            .flat_map(|stage| {
                stage
                    .inputs
                    .iter()
                    .map(|(path, digest)| (path.clone(), digest.clone()))
            })
            .collect()
    }

    /// The stages of the definition `name`: its sweep points and
    /// replicates (`tuned[kl=...]`, `tuned#1`), or the stage named so.
    pub fn points_of(&self, name: &str) -> Vec<&Stage> {
        self.stages
            .iter()
            .filter(|stage| {
                stage.name == name
                    || stage.name.starts_with(&format!("{name}["))
                    || stage.name.starts_with(&format!("{name}#"))
            })
            .collect()
    }

    /// The stages whose names start with `name` (a stage, or every stage of
    /// a definition: `tuned` selects `tuned[kl=...]` and `tuned#1`), and
    /// every stage they read from.
    pub fn selection(&self, name: &str) -> Vec<&Stage> {
        let mut wanted: Vec<&StageKey> = self
            .points_of(name)
            .into_iter()
            .map(|stage| &stage.key)
            .collect();
        let mut index = 0;
        while index < wanted.len() {
            if let Some(stage) = self.stage(wanted[index]) {
                for key in stage.upstream.values() {
                    if !wanted.contains(&key) {
                        wanted.push(key);
                    }
                }
            }
            index += 1;
        }
        self.stages
            .iter()
            .filter(|stage| wanted.contains(&&stage.key))
            .collect()
    }
}
