//! Report stages: every evaluation's metrics gathered into one table, drawn
//! as charts and a page.
//!
//! Artifacts (each only if its `outputs` entry is chosen): `metrics.csv`
//! (every value), `NAME.svg` and `NAME.png` for each chosen chart, and
//! `report.html` (self-contained, charts inline). All are pure functions of
//! the parameters and the upstream evaluations: no time, no path, no
//! duration (`echolab report` adds the run table with durations when it
//! publishes the page; see `docs/reports.md`).

use serde::Deserialize;

use super::{StageContext, StageError};
use crate::report::{
    render_page, render_png, render_svg, summary_rows, training_rows, write_csv, Chart,
    EvaluationRow, Figure, MetricRow, PageContent,
};
use crate::runtime::Entry;

#[derive(Deserialize)]
struct Series {
    role: String,
    eval: String,
    model: String,
    point: String,
    replicate: i64,
}

/// An RL stage whose own metrics the `training` chart draws.
#[derive(Deserialize)]
struct TrainingSeries {
    role: String,
    model: String,
    point: String,
    replicate: i64,
}

#[derive(Deserialize)]
struct ReportFields {
    #[serde(default)]
    charts: Vec<String>,
    #[serde(default)]
    outputs: Vec<String>,
}

#[derive(Deserialize)]
struct Parameters {
    #[serde(default)]
    experiment: String,
    #[serde(default)]
    description: Option<String>,
    report: ReportFields,
    series: Vec<Series>,
    #[serde(default)]
    training: Vec<TrainingSeries>,
}

/// Gathers every evaluation's `metrics.jsonl` into `metrics.csv`, one row
/// per measured value, labelled with its evaluation, model, sweep point and
/// replicate; reads the RL stages' own `metrics.jsonl` for the `training`
/// chart; draws the chosen charts and the page.
pub(super) fn run(context: &mut StageContext<'_>) -> Result<(), StageError> {
    let built = build(
        &context.stage.parameters,
        &context.stage.name,
        &|role| context.upstream(role).map(Some),
        &|role| context.upstream_name(role),
    )?;
    for line in &built.notes {
        context.log(line);
    }
    for (name, bytes) in &built.files {
        context.write(name, bytes)?;
    }
    Ok(())
}

/// A report's files, built in memory.
#[derive(Debug)]
pub struct BuiltReport {
    /// Each artifact's name and bytes, in the order written.
    pub files: Vec<(String, Vec<u8>)>,
    /// The evaluations the report names that were not available (empty
    /// for a report stage, which waits for all of them).
    pub missing: Vec<String>,
    /// How many evaluations it read.
    pub read: usize,
    /// Lines for the stage's log.
    pub notes: Vec<String>,
}

/// Builds the report of the stage `stage_name` with these `parameters`,
/// reading each evaluation's entry through `upstream` (by role). An
/// evaluation `upstream` does not have (`Ok(None)`) is left out and named
/// (by `name_of`, its stage name) in [`BuiltReport::missing`], and the page
/// says it is partial. With every evaluation present the bytes are exactly
/// those of the report stage.
pub fn build(
    parameters: &serde_json::Value,
    stage_name: &str,
    upstream: &dyn Fn(&str) -> Result<Option<Entry>, StageError>,
    name_of: &dyn Fn(&str) -> String,
) -> Result<BuiltReport, StageError> {
    let parameters: Parameters =
        serde_json::from_value(parameters.clone()).map_err(|error| StageError::Parameters {
            message: format!("stage `{stage_name}`: {error}"),
        })?;
    let mut files = Vec::new();
    let mut notes = Vec::new();
    let mut rows = Vec::new();
    let mut evaluations = Vec::new();
    let mut missing = Vec::new();
    for series in &parameters.series {
        let Some(entry) = upstream(&series.role)? else {
            missing.push(name_of(&series.role));
            continue;
        };
        let (text, file) = read_metrics(&entry, &series.role)?;
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            rows.push(MetricRow::from_json_line(
                line,
                index + 1,
                &file,
                (&series.eval, &series.model, &series.point, series.replicate),
            )?);
        }
        evaluations.push(EvaluationRow {
            eval: series.eval.clone(),
            model: series.model.clone(),
            point: series.point.clone(),
            replicate: series.replicate,
            key: entry.manifest.key.0.clone(),
        });
    }
    // The RL stages the training chart reads; one not available is named
    // on the page, not counted among the evaluations.
    let mut training = Vec::new();
    let mut missing_training = Vec::new();
    for series in &parameters.training {
        let Some(entry) = upstream(&series.role)? else {
            missing_training.push(name_of(&series.role));
            continue;
        };
        let (text, file) = read_metrics(&entry, &series.role)?;
        training.extend(training_rows(
            &text,
            &file,
            (&series.model, &series.point, series.replicate),
        )?);
    }
    let wants = |output: &str| {
        parameters
            .report
            .outputs
            .iter()
            .any(|chosen| chosen == output)
    };
    if wants("csv") {
        files.push(("metrics.csv".to_string(), write_csv(&rows).into_bytes()));
    }
    let mut charts = Vec::new();
    for chart in Chart::ALL {
        if !parameters
            .report
            .charts
            .iter()
            .any(|name| name == chart.name())
        {
            continue;
        }
        let source = match chart {
            Chart::Training => &training,
            _ => &rows,
        };
        let Some(figure) = Figure::build(chart, source) else {
            notes.push(format!("chart `{}`: nothing to draw", chart.name()));
            continue;
        };
        let svg = render_svg(&figure)?;
        if wants("svg") {
            files.push((format!("{}.svg", chart.name()), svg.clone().into_bytes()));
        }
        if wants("png") {
            files.push((
                format!("{}.png", chart.name()),
                render_png(&svg, chart.name())?,
            ));
        }
        charts.push((chart, svg));
    }
    let read = evaluations.len();
    if wants("html") {
        let winners = if charts.iter().any(|(chart, _)| *chart == Chart::Winner) {
            Figure::winners(&rows)
        } else {
            Vec::new()
        };
        let page = render_page(&PageContent {
            experiment: parameters.experiment.clone(),
            description: parameters.description.clone(),
            charts,
            winners,
            summary: summary_rows(&rows),
            evaluations,
            run_table: parameters
                .report
                .charts
                .iter()
                .any(|name| name == "run_table"),
            missing: missing.iter().chain(&missing_training).cloned().collect(),
        });
        files.push(("report.html".to_string(), page.into_bytes()));
    }
    Ok(BuiltReport {
        files,
        missing,
        read,
        notes,
    })
}

/// The text of an upstream entry's `metrics.jsonl`, and the name errors
/// give it (`eval.0/metrics.jsonl`).
fn read_metrics(entry: &Entry, role: &str) -> Result<(String, String), StageError> {
    let path = entry.artifact("metrics.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|source| StageError::Io {
        action: "read",
        path: path.clone(),
        source,
    })?;
    Ok((text, format!("{role}/metrics.jsonl")))
}
