//! `echolab diff A B`: the metrics of two runs or sweep points, value by
//! value.
//!
//! A side is `FILE` (the experiment's cached report, else every cached
//! evaluation) or `FILE:STAGE`, a stage of its plan as `echolab status`
//! names it: an evaluation (`main:tuned[kl=constant(0)]`), a report, or a
//! trained stage (`tuned[kl=constant(0)]`: the evaluations of it). A name
//! without its sweep values or replicate (`main:tuned`) selects every stage
//! it starts. Replicates are averaged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::ValueEnum;

use super::load_plan;
use crate::plan::{Plan, Stage, StageKey, StageKind};
use crate::report::{read_csv, MetricRow, MetricsDiff};
use crate::runtime::Project;

/// How `echolab diff` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DiffFormat {
    /// Aligned columns and a summary line.
    Text,
    /// One row per value, exact.
    Csv,
    /// One JSON document with the values and the summary.
    Json,
}

/// `FILE` or `FILE:STAGE`, split where the file name ends.
fn split_side(side: &str) -> (PathBuf, Option<String>) {
    if let Some(end) = side.find(".echo:") {
        let (file, stage) = side.split_at(end + ".echo".len());
        return (PathBuf::from(file), Some(stage[1..].to_string()));
    }
    (PathBuf::from(side), None)
}

/// `(eval, model, point, replicate)` of every evaluation a report of the
/// plan reads, by key.
fn labels_from_reports(plan: &Plan) -> BTreeMap<StageKey, (String, String, String, i64)> {
    let mut labels = BTreeMap::new();
    for stage in plan
        .stages
        .iter()
        .filter(|stage| stage.kind == StageKind::Report)
    {
        let Some(series) = stage.parameters.get("series").and_then(|s| s.as_array()) else {
            continue;
        };
        for item in series {
            let text = |name: &str| {
                item.get(name)
                    .and_then(|value| value.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            if let Some(key) = stage.upstream.get(&text("role")) {
                let replicate = item
                    .get("replicate")
                    .and_then(|value| value.as_i64())
                    .unwrap_or(0);
                labels.insert(
                    key.clone(),
                    (text("eval"), text("model"), text("point"), replicate),
                );
            }
        }
    }
    labels
}

/// Labels read from an evaluation's name, `main:tuned[kl=constant(0)]#1`,
/// when no report names it.
fn labels_from_name(name: &str) -> (String, String, String, i64) {
    let (eval, rest) = name.split_once(':').unwrap_or(("", name));
    let (rest, replicate) = match rest.rsplit_once('#') {
        Some((rest, replicate)) => (rest, replicate.parse().unwrap_or(0)),
        None => (rest, 0),
    };
    let (model, point) = match rest.split_once('[') {
        Some((model, point)) => (model, point.trim_end_matches(']')),
        None => (rest, ""),
    };
    (
        eval.to_string(),
        model.to_string(),
        point.to_string(),
        replicate,
    )
}

/// The metric rows of one side.
fn rows_of(side: &str, cache: Option<&Path>) -> anyhow::Result<Option<Vec<MetricRow>>> {
    let (file, selection) = split_side(side);
    let Some((_, plan)) = load_plan(&file)? else {
        return Ok(None);
    };
    let project = Project::locate(&file, cache);
    let labels = labels_from_reports(&plan);
    let read_eval = |stage: &Stage| -> anyhow::Result<Vec<MetricRow>> {
        let entry = project.cache.intact(&stage.key)?.with_context(|| {
            format!(
                "stage `{}` of `{side}` is not in the cache, or its entry is damaged (`echolab status` says which): run it first",
                stage.name
            )
        })?;
        let path = entry.artifact("metrics.jsonl");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        let (eval, model, point, replicate) = labels
            .get(&stage.key)
            .cloned()
            .unwrap_or_else(|| labels_from_name(&stage.name));
        let mut rows = Vec::new();
        for (index, line) in text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
        {
            rows.push(MetricRow::from_json_line(
                line,
                index + 1,
                &format!("{}/metrics.jsonl", stage.name),
                (&eval, &model, &point, replicate),
            )?);
        }
        Ok(rows)
    };
    let read_report = |stage: &Stage| -> anyhow::Result<Option<Vec<MetricRow>>> {
        let Some(entry) = project.cache.intact(&stage.key)? else {
            return Ok(None);
        };
        let path = entry.artifact("metrics.csv");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        Ok(Some(read_csv(
            &text,
            &format!("{}/metrics.csv", stage.name),
        )?))
    };
    let evaluations: Vec<&Stage> = plan
        .stages
        .iter()
        .filter(|stage| stage.kind == StageKind::Eval)
        .collect();
    let Some(selection) = selection else {
        // The whole experiment: its cached report, else its cached evaluations.
        for stage in plan
            .stages
            .iter()
            .filter(|stage| stage.kind == StageKind::Report)
        {
            if let Some(rows) = read_report(stage)? {
                return Ok(Some(rows));
            }
        }
        let mut rows = Vec::new();
        for stage in evaluations {
            if project.cache.intact(&stage.key)?.is_some() {
                rows.extend(read_eval(stage)?);
            }
        }
        anyhow::ensure!(
            !rows.is_empty(),
            "no evaluation of `{}` is in the cache: run it first",
            file.display()
        );
        return Ok(Some(rows));
    };
    let selected: Vec<&Stage> = plan
        .stages
        .iter()
        .filter(|stage| {
            stage.name == selection
                || stage.name.starts_with(&format!("{selection}["))
                || stage.name.starts_with(&format!("{selection}#"))
        })
        .collect();
    if selected.is_empty() {
        let names: Vec<&str> = evaluations
            .iter()
            .map(|stage| stage.name.as_str())
            .collect();
        anyhow::bail!(
            "`{}` has no stage `{selection}`; its evaluations are: {}",
            file.display(),
            names.join(", ")
        );
    }
    let mut rows = Vec::new();
    for stage in selected {
        match stage.kind {
            StageKind::Eval => rows.extend(read_eval(stage)?),
            StageKind::Report => rows.extend(read_report(stage)?.with_context(|| {
                format!(
                    "report `{}` of `{side}` is not in the cache: run it first",
                    stage.name
                )
            })?),
            _ => {
                let readers: Vec<&&Stage> = evaluations
                    .iter()
                    .filter(|evaluation| evaluation.upstream.values().any(|key| key == &stage.key))
                    .collect();
                anyhow::ensure!(
                    !readers.is_empty(),
                    "no evaluation reads stage `{}`",
                    stage.name
                );
                for evaluation in readers {
                    rows.extend(read_eval(evaluation)?);
                }
            }
        }
    }
    Ok(Some(rows))
}

/// Compares side `a` with side `b` and prints the comparison.
pub(super) fn run(
    a: &str,
    b: &str,
    format: DiffFormat,
    cache: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let (Some(a_rows), Some(b_rows)) = (rows_of(a, cache)?, rows_of(b, cache)?) else {
        return Ok(ExitCode::from(1));
    };
    let diff = MetricsDiff::compare(a, &a_rows, b, &b_rows);
    let text = match format {
        DiffFormat::Text => diff.to_text(),
        DiffFormat::Csv => diff.to_csv(),
        DiffFormat::Json => diff.to_json(),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_side_splits_where_the_file_name_ends() {
        assert_eq!(
            split_side("experiments/smoke.echo"),
            (PathBuf::from("experiments/smoke.echo"), None)
        );
        assert_eq!(
            split_side("experiments/smoke.echo:main:tuned[kl=constant(0)]"),
            (
                PathBuf::from("experiments/smoke.echo"),
                Some("main:tuned[kl=constant(0)]".to_string())
            )
        );
    }

    #[test]
    fn labels_are_read_back_from_an_evaluation_name() {
        assert_eq!(
            labels_from_name("main:tuned[kl=constant(0.01)]#2"),
            (
                "main".to_string(),
                "tuned".to_string(),
                "kl=constant(0.01)".to_string(),
                2
            )
        );
        assert_eq!(
            labels_from_name("main:base"),
            ("main".to_string(), "base".to_string(), String::new(), 0)
        );
    }
}
