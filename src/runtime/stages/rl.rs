//! RL stages: the stage's parameters and upstream artifacts turned into
//! [`training::rl::run`](crate::training::rl::run)'s inputs.

use super::stage_observer::StageObserver;
use super::{StageContext, StageError};
use crate::training::rl::{run as run_rl, RlConfig, RlInputs};

/// Every file below `folder`, relative to it, except checkpoints.
fn artifacts_below(folder: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(listing) = std::fs::read_dir(&current) else {
            continue;
        };
        for item in listing.flatten() {
            let path = item.path();
            let relative = path
                .strip_prefix(folder)
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default();
            if relative.starts_with("checkpoints") {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(relative);
            }
        }
    }
    found.sort();
    found
}

/// Fine-tunes from the `from` stage, resuming from the work folder's
/// checkpoint if there is one, and copies the model, snapshots and logs out.
pub(super) fn run(context: &mut StageContext<'_>) -> Result<(), StageError> {
    let mut parameters = context.stage.parameters.clone();
    // How often to checkpoint is a setting, outside the key.
    let checkpoint_every = context
        .stage
        .settings
        .get("checkpoint_every")
        .cloned()
        .unwrap_or(serde_json::json!(20));
    if let Some(training) = parameters
        .get_mut("training")
        .and_then(serde_json::Value::as_object_mut)
    {
        training.insert("checkpoint_every".to_string(), checkpoint_every);
    }
    let config: RlConfig =
        serde_json::from_value(parameters).map_err(|error| StageError::Parameters {
            message: format!("stage `{}`: {error}", context.stage.name),
        })?;
    let inputs = RlInputs {
        checkpoint: context.upstream("from")?.path,
        tokenizer: context.tokenizer()?,
        prompts: context.documents("prompts")?,
    };
    let work = context.work.clone();
    let outcome = {
        let mut observer = StageObserver {
            context: &mut *context,
            log_every: 1,
        };
        run_rl(&config, &inputs, &work, &mut observer)
            .map_err(|error| StageError::Other(error.to_string()))?
    };
    context.log(&format!(
        "{} steps, final mean reward {:.3}",
        outcome.steps, outcome.final_reward
    ));
    for relative in artifacts_below(&work) {
        context.copy_in(&work.join(&relative), &relative.to_string_lossy())?;
    }
    Ok(())
}
