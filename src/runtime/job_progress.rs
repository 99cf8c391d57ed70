//! [`JobProgress`]: how much of a whole `echolab run` is done and how long
//! the rest will take, before most of its stages have started.
//!
//! A stage that has not started has no rate of its own, so the job's time
//! left comes from the work each stage will do, estimated from its
//! parameters in one unit ([`stage_work`]: passes of one token through
//! the model, weighted by the model's size), and the rate at which this
//! run has got through that unit so far. Cached stages drop out of the
//! total when they are found. The estimate is a guide, not a promise:
//! answers that stop early make sampling cheaper than counted.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;

use crate::plan::{Plan, Stage, StageKey, StageKind};

/// What one sampled (decoded) token costs against one token of a
/// training step's forward pass: decoding runs matrix-vector-like
/// products, which use the processor less well. Calibrated from the
/// default experiment's stage times on the 2-core development machine
/// (docs/performance.md: its evaluations and its RL runs both give 1.2-1.3).
const DECODED_TOKEN: f64 = 1.25;

/// What one token of a training step (forward and backward) costs against
/// one token of a forward pass.
const TRAINED_TOKEN: f64 = 3.0;

/// The work of `stage` in passes of one token through its model's
/// forward, times the model's cost per token ([`model_cost`]); zero for
/// stages whose work is small beside training (data, tokenizer, report).
pub fn stage_work(stage: &Stage, plan: &Plan) -> f64 {
    let parameters = &stage.parameters;
    let number = |path: &[&str]| -> f64 {
        path.iter()
            .try_fold(parameters, |value, field| value.get(field))
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    };
    let cost = model_cost(stage, plan);
    match stage.kind {
        StageKind::Pretrain => number(&["training", "tokens"]) * TRAINED_TOKEN * cost,
        StageKind::Rl => {
            let answers = number(&["training", "steps"])
                * number(&["training", "prompts_per_step"])
                * number(&["training", "samples_per_prompt"]);
            answers
                * number(&["training", "max_new_tokens"])
                * (DECODED_TOKEN + TRAINED_TOKEN)
                * cost
        }
        StageKind::Eval => {
            let checkpoints = parameters
                .get("steps")
                .and_then(Value::as_array)
                .map_or(1, |steps| steps.len().max(1)) as f64;
            let sets = stage
                .upstream
                .keys()
                .filter(|role| role.starts_with("set."))
                .count() as f64;
            let metrics: Vec<&str> = parameters
                .pointer("/evaluation/metrics")
                .and_then(Value::as_array)
                .map(|metrics| metrics.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            // One greedy answer, `samples` sampled ones, one forced per format.
            let mut answers = number(&["evaluation", "samples"]);
            if metrics.contains(&"pass@1") {
                answers += 1.0;
            }
            if metrics.contains(&"forced_pass@1") {
                answers += 3.0;
            }
            checkpoints
                * sets
                * number(&["evaluation", "problems"])
                * answers
                * number(&["evaluation", "max_new_tokens"])
                * DECODED_TOKEN
                * cost
        }
        _ => 0.0,
    }
}

/// A model's cost per token relative to others: the weights of its
/// blocks, `layers x width^2` (the products' share of the work), found in
/// the pretraining stage that `stage` trains or starts from; 1 when the
/// plan does not say.
fn model_cost(stage: &Stage, plan: &Plan) -> f64 {
    let mut current = stage;
    // An evaluation reads `model`, an RL stage `from`: follow them to the
    // pretraining stage that holds the model's shape.
    for _ in 0..8 {
        if let Some(model) = current.parameters.get("model") {
            let layers = model.get("layers").and_then(Value::as_f64);
            let width = model.get("width").and_then(Value::as_f64);
            if let (Some(layers), Some(width)) = (layers, width) {
                return (layers * width * width / (4.0 * 128.0 * 128.0)).max(1e-6);
            }
        }
        let next = ["model", "from"]
            .iter()
            .find_map(|role| current.upstream.get(*role))
            .and_then(|key| plan.stage(key));
        match next {
            Some(stage) => current = stage,
            None => break,
        }
    }
    1.0
}

/// The progress of a whole run: each stage's share of the work, how far
/// the running stages are and how fast this run has gone.
#[derive(Debug, Clone)]
pub struct JobProgress {
    /// Each stage's estimated work ([`stage_work`]), until it is found
    /// cached (then removed).
    work: BTreeMap<StageKey, f64>,
    /// The fraction done of each stage that has reported progress (1 when
    /// it finished).
    done: BTreeMap<StageKey, f64>,
    /// When the first stage started computing.
    started: Option<Instant>,
}

/// What [`JobProgress::estimate`] says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobEstimate {
    /// The fraction of the run's work done, 0 to 1.
    pub fraction: f64,
    /// Seconds left at the rate measured so far; `None` until some work is
    /// done.
    pub seconds_left: Option<f64>,
}

impl JobProgress {
    /// The progress of running `stages` of `plan`, nothing done yet.
    pub fn new(plan: &Plan, stages: &[&Stage]) -> Self {
        JobProgress {
            work: stages
                .iter()
                .map(|stage| (stage.key.clone(), stage_work(stage, plan)))
                .collect(),
            done: BTreeMap::new(),
            started: None,
        }
    }

    /// A stage started computing at `now` (the first one starts the clock).
    pub fn started(&mut self, now: Instant) {
        self.started.get_or_insert(now);
    }

    /// `key` reported `step` of `total`.
    pub fn report(&mut self, key: &StageKey, step: u64, total: u64) {
        if total > 0 {
            let fraction = (step as f64 / total as f64).clamp(0.0, 1.0);
            self.done.insert(key.clone(), fraction);
        }
    }

    /// `key` finished; a cached stage did none of the work counted for it.
    pub fn finished(&mut self, key: &StageKey, cached: bool) {
        if cached {
            self.work.remove(key);
            self.done.remove(key);
        } else {
            self.done.insert(key.clone(), 1.0);
        }
    }

    /// How much is done and, from the rate since the first stage started
    /// computing, how long the rest will take.
    pub fn estimate(&self, now: Instant) -> JobEstimate {
        let total: f64 = self.work.values().sum();
        let done: f64 = self
            .done
            .iter()
            .map(|(key, fraction)| self.work.get(key).copied().unwrap_or(0.0) * fraction)
            .sum();
        let fraction = if total > 0.0 { done / total } else { 1.0 };
        let elapsed = self
            .started
            .map(|started| now.duration_since(started).as_secs_f64());
        let seconds_left = match elapsed {
            Some(elapsed) if done > 0.0 && elapsed > 0.0 => Some((total - done) * elapsed / done),
            _ => None,
        };
        JobEstimate {
            fraction,
            seconds_left,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stage(name: &str, kind: StageKind, parameters: Value, upstream: &[(&str, &str)]) -> Stage {
        Stage {
            name: name.into(),
            kind,
            key: StageKey(format!("{name:0>64}")),
            parameters,
            settings: Value::Null,
            upstream: upstream
                .iter()
                .map(|(role, key)| (role.to_string(), StageKey(format!("{key:0>64}"))))
                .collect(),
            inputs: Default::default(),
        }
    }

    fn plan() -> Plan {
        let model = serde_json::json!({"layers": 4, "width": 128});
        Plan {
            experiment: "x".into(),
            stages: vec![
                stage("data", StageKind::Data, Value::Null, &[]),
                stage(
                    "base",
                    StageKind::Pretrain,
                    serde_json::json!({"model": model, "training": {"tokens": 1000}}),
                    &[("data.0", "data")],
                ),
                stage(
                    "tuned",
                    StageKind::Rl,
                    serde_json::json!({"training": {"steps": 2, "prompts_per_step": 2,
                        "samples_per_prompt": 2, "max_new_tokens": 10}}),
                    &[("from", "base")],
                ),
                stage(
                    "main:tuned",
                    StageKind::Eval,
                    serde_json::json!({"steps": [0, 2], "evaluation": {"problems": 5,
                        "samples": 2, "max_new_tokens": 10, "metrics": ["pass@1", "forced_pass@1"]}}),
                    &[("model", "tuned"), ("set.0", "data")],
                ),
            ],
        }
    }

    #[test]
    fn each_kind_of_stage_is_counted_in_tokens_through_its_model() {
        let plan = plan();
        let work: Vec<f64> = plan
            .stages
            .iter()
            .map(|stage| stage_work(stage, &plan))
            .collect();
        assert_eq!(work[0], 0.0);
        assert_eq!(work[1], 1000.0 * TRAINED_TOKEN);
        assert_eq!(work[2], 8.0 * 10.0 * (DECODED_TOKEN + TRAINED_TOKEN));
        // 2 checkpoints x 1 set x 5 problems x (2 + 1 + 3) answers x 10 tokens.
        assert_eq!(work[3], 2.0 * 5.0 * 6.0 * 10.0 * DECODED_TOKEN);
        // A model twice as wide costs four times as much per token.
        let mut wide = plan.clone();
        wide.stages[1].parameters["model"]["width"] = 256.into();
        assert_eq!(stage_work(&wide.stages[3], &wide), 4.0 * work[3]);
    }

    #[test]
    fn the_time_left_follows_the_rate_and_cached_stages_drop_out() {
        let plan = plan();
        let stages: Vec<&Stage> = plan.stages.iter().collect();
        let mut job = JobProgress::new(&plan, &stages);
        let start = Instant::now();
        assert_eq!(job.estimate(start).seconds_left, None);
        job.finished(&plan.stages[0].key, true);
        job.started(start);
        let base = &plan.stages[1].key;
        job.report(base, 1, 2);
        let total: f64 = plan.stages.iter().map(|s| stage_work(s, &plan)).sum();
        let half_of_base = 1500.0;
        let estimate = job.estimate(start + Duration::from_secs(10));
        assert!((estimate.fraction - half_of_base / total).abs() < 1e-12);
        let left = estimate.seconds_left.unwrap();
        assert!((left - (total - half_of_base) * 10.0 / half_of_base).abs() < 1e-9);
        // The RL stage found cached: its work leaves the total.
        job.finished(&plan.stages[2].key, true);
        let shorter = job.estimate(start + Duration::from_secs(10));
        assert!(shorter.seconds_left.unwrap() < left);
        for stage in &plan.stages {
            job.finished(&stage.key, false);
        }
        let end = job.estimate(start + Duration::from_secs(20));
        assert_eq!(end.fraction, 1.0);
        assert_eq!(end.seconds_left, Some(0.0));
    }
}
