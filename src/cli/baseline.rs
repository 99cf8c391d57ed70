//! `echolab baseline`: each pretraining stage's held-out loss per source
//! beside the unigram baseline, to read how well each format was learned.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::plan::StageKind;
use crate::runtime::stages::pretraining_unigram_baseline;
use crate::runtime::Project;
use crate::training::MetricsRecord;

/// The last held-out loss per source recorded in a pretraining stage's
/// `metrics.jsonl`.
fn final_held_out_losses(metrics: &Path) -> anyhow::Result<Vec<(String, f64)>> {
    let text = std::fs::read_to_string(metrics)
        .with_context(|| format!("cannot read `{}`", metrics.display()))?;
    let mut last: Vec<(String, f64)> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let record: MetricsRecord = serde_json::from_str(line)
            .with_context(|| format!("`{}`, line {}", metrics.display(), number + 1))?;
        let MetricsRecord::HeldOut {
            source,
            loss: Some(loss),
            ..
        } = record
        else {
            continue;
        };
        match last.iter_mut().find(|(name, _)| *name == source) {
            Some(slot) => slot.1 = loss,
            None => last.push((source, loss)),
        }
    }
    Ok(last)
}

/// Prints, for every pretraining stage of `file` whose inputs are cached,
/// each source's unigram baseline and (when the stage is cached) the
/// model's final held-out loss, in nats per token.
pub(super) fn baseline(file: &Path, cache: Option<&Path>) -> anyhow::Result<ExitCode> {
    let Some((_, plan)) = super::load_plan(file)? else {
        return Ok(ExitCode::from(1));
    };
    let project = Project::locate(file, cache);
    let experiment_directory = super::experiment_directory(file);
    println!(
        "{:<24} {:<16} {:>12} {:>12} {:>7}",
        "stage", "source", "unigram", "model", "ratio"
    );
    for stage in plan
        .stages
        .iter()
        .filter(|stage| stage.kind == StageKind::Pretrain)
    {
        let baselines =
            match pretraining_unigram_baseline(&plan, stage, &project.cache, &experiment_directory)
            {
                Ok(baselines) => baselines,
                Err(error) => {
                    println!("{:<24} (inputs not available: {error})", stage.name);
                    continue;
                }
            };
        let model = match project.cache.intact(&stage.key)? {
            Some(entry) => final_held_out_losses(&entry.artifact("metrics.jsonl"))?,
            None => Vec::new(),
        };
        for baseline in baselines {
            let unigram = baseline.loss;
            let trained = model
                .iter()
                .find(|(source, _)| *source == baseline.source)
                .map(|(_, loss)| *loss);
            let show = |value: Option<f64>| value.map_or("-".to_string(), |v| format!("{v:.3}"));
            let ratio = match (trained, unigram) {
                (Some(trained), Some(unigram)) if unigram > 0.0 => {
                    format!("{:.2}", trained / unigram)
                }
                _ => "-".to_string(),
            };
            println!(
                "{:<24} {:<16} {:>12} {:>12} {:>7}",
                stage.name,
                baseline.source,
                show(unigram),
                show(trained),
                ratio
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
