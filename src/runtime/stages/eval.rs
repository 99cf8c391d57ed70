//! Evaluation stages: a trained stage's checkpoints measured on the
//! evaluation sets by [`evaluation::evaluate_checkpoints`](crate::evaluation::evaluate_checkpoints).

use std::collections::BTreeMap;
use std::time::Instant;

use super::{StageContext, StageError};
use crate::evaluation::{evaluate_checkpoints_in, EvalConfig, EvalInputs, PartDone};
use crate::plan::Stage;

/// Evaluates the upstream model at the listed steps (an RL stage's
/// snapshots; a pretraining stage's final weights as step 0) and writes
/// `metrics.jsonl` and `samples.jsonl`. Each (step, set) measured is kept
/// in the work folder, so a killed evaluation resumes with them; the log
/// gets a line per part.
pub(super) fn run(context: &mut StageContext<'_>) -> Result<(), StageError> {
    let config: EvalConfig = context.parameters()?;
    let model = context.upstream("model")?;
    let steps = rl_steps(context.stage);
    let mut checkpoints = BTreeMap::new();
    let mut reference = None;
    if steps.is_empty() {
        checkpoints.insert(0, model.path.clone());
    } else {
        for step in steps {
            checkpoints.insert(
                step,
                model.path.join("snapshots").join(format!("step-{step}")),
            );
        }
        // Step 0 of an RL stage is its starting checkpoint: the KL reference.
        reference = Some(model.path.join("snapshots").join("step-0"));
    }
    let mut sets = Vec::new();
    for role in set_roles(context.stage) {
        sets.push((context.upstream_name(role), context.documents(role)?));
    }
    let inputs = EvalInputs {
        checkpoints,
        tokenizer: context.tokenizer()?,
        reference,
        sets,
    };
    let output = context.output.clone();
    let work = context.work.clone();
    let total = (inputs.checkpoints.len() * inputs.sets.len()) as u64;
    (context.progress)(0, total, "evaluating");
    let started = Instant::now();
    let mut on_part = |part: &PartDone<'_>| {
        let how = if part.resumed {
            "read back from the work folder".to_string()
        } else {
            format!("measured, {:.1} s in", started.elapsed().as_secs_f64())
        };
        context.log(&format!(
            "step {} on `{}`: part {} of {} {how}",
            part.step, part.set, part.done, part.total
        ));
        (context.progress)(part.done as u64, part.total as u64, "evaluating");
    };
    evaluate_checkpoints_in(&config, &inputs, &output, &work, &mut on_part)
        .map_err(|error| StageError::Other(error.to_string()))?;
    Ok(())
}

/// The RL steps an evaluation stage measures; empty for a pretrained
/// model (measured once, as step 0).
fn rl_steps(stage: &Stage) -> Vec<u64> {
    stage
        .parameters
        .get("steps")
        .and_then(serde_json::Value::as_array)
        .map(|steps| steps.iter().filter_map(serde_json::Value::as_u64).collect())
        .unwrap_or_default()
}

/// The upstream roles of an evaluation stage's sets (`set.0`, `set.1`,
/// ...), in their order.
fn set_roles(stage: &Stage) -> Vec<&String> {
    let mut roles: Vec<&String> = stage
        .upstream
        .keys()
        .filter(|role| role.starts_with("set."))
        .collect();
    roles.sort_by_key(|role| {
        role.trim_start_matches("set.")
            .parse::<usize>()
            .unwrap_or(0)
    });
    roles
}

/// The (step, set) parts of an evaluation stage: its steps (one, step 0,
/// for a pretrained model) times its sets.
pub fn evaluation_parts(stage: &Stage) -> usize {
    rl_steps(stage).len().max(1) * set_roles(stage).len()
}
