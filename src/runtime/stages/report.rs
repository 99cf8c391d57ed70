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
    render_page, render_png, render_svg, write_csv, Chart, EvaluationRow, Figure, MetricRow,
    PageContent,
};

#[derive(Deserialize)]
struct Series {
    role: String,
    eval: String,
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
}

/// Gathers every evaluation's `metrics.jsonl` into `metrics.csv`, one row
/// per measured value, labelled with its evaluation, model, sweep point and
/// replicate; draws the chosen charts and the page.
pub(super) fn run(context: &mut StageContext<'_>) -> Result<(), StageError> {
    let parameters: Parameters = context.parameters()?;
    let mut rows = Vec::new();
    let mut evaluations = Vec::new();
    for series in &parameters.series {
        let entry = context.upstream(&series.role)?;
        let path = entry.artifact("metrics.jsonl");
        let text = std::fs::read_to_string(&path).map_err(|source| StageError::Io {
            action: "read",
            path: path.clone(),
            source,
        })?;
        let file = format!("{}/metrics.jsonl", series.role);
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
    let wants = |output: &str| {
        parameters
            .report
            .outputs
            .iter()
            .any(|chosen| chosen == output)
    };
    if wants("csv") {
        context.write("metrics.csv", write_csv(&rows).as_bytes())?;
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
        let Some(figure) = Figure::build(chart, &rows) else {
            context.log(&format!("chart `{}`: nothing to draw", chart.name()));
            continue;
        };
        let svg = render_svg(&figure)?;
        if wants("svg") {
            context.write(&format!("{}.svg", chart.name()), svg.as_bytes())?;
        }
        if wants("png") {
            context.write(
                &format!("{}.png", chart.name()),
                &render_png(&svg, chart.name())?,
            )?;
        }
        charts.push((chart, svg));
    }
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
            evaluations,
            run_table: parameters
                .report
                .charts
                .iter()
                .any(|name| name == "run_table"),
        });
        context.write("report.html", page.as_bytes())?;
    }
    Ok(())
}
