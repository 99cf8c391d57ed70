//! The `training` chart: what each RL stage's own `metrics.jsonl` says,
//! step by step (reward, truncation and answer length per format, the
//! policy's entropy and KL per token, the prompts that teach nothing, the
//! gradient norm), so a reader can see why an RL run went where it went.
//!
//! An RL step samples only `prompts_per_step x samples_per_prompt` answers,
//! so each point is the mean of its step and the [`SMOOTHING_STEPS`] - 1
//! steps before it (fewer at the start), then averaged over replicates.

use std::collections::BTreeMap;

use super::figure::{format_color, highest, Chart, Figure, FigureRow, LegendEntry, Panel, Series};
use super::gathered::{row_label, Gathered};
use super::{MetricRow, ReportError};

/// Each point is the mean of this many steps (its own and those before).
pub const SMOOTHING_STEPS: usize = 10;

/// The label of the training rows' `eval` column: not an evaluation.
const TRAINING: &str = "training";

/// Formats drawn per format, in order.
const FORMATS: [&str; 3] = ["code", "code_text", "prose"];

/// One row of the chart: its name, the vertical axis' label, whether it is
/// a fraction (drawn up to 1), and its lines: `(field, format field,
/// legend label)`; a line with a format field is drawn once per format,
/// from `formats.FORMAT.FIELD`, in the format's colour.
struct Quantity {
    name: &'static str,
    y_label: &'static str,
    fraction: bool,
    lines: &'static [(&'static str, Option<&'static str>, &'static str)],
}

const QUANTITIES: &[Quantity] = &[
    Quantity {
        name: "reward",
        y_label: "mean reward",
        fraction: true,
        lines: &[("reward", Some("reward"), "all samples")],
    },
    Quantity {
        name: "cut at max_new_tokens",
        y_label: "share of samples",
        fraction: false,
        lines: &[("truncated", Some("truncated"), "all samples")],
    },
    Quantity {
        name: "answer length",
        y_label: "tokens",
        fraction: false,
        lines: &[("completion_length", Some("length"), "all samples")],
    },
    Quantity {
        name: "entropy and KL per token",
        y_label: "nats per token",
        fraction: false,
        lines: &[
            ("entropy", None, "entropy"),
            ("kl_per_token", None, "KL to the reference"),
        ],
    },
    Quantity {
        name: "prompts that teach nothing",
        y_label: "share with equal rewards",
        fraction: false,
        lines: &[("equal_reward_groups", None, "equal-reward prompts")],
    },
    Quantity {
        name: "gradient norm",
        y_label: "norm before clipping",
        fraction: false,
        lines: &[("gradient_norm", None, "gradient norm")],
    },
];

/// The colours of the lines that are not a format's.
const SCALAR_COLORS: &[(&str, [u8; 3])] = &[
    ("all samples", [60, 60, 60]),
    ("entropy", [148, 103, 189]),
    ("KL to the reference", [214, 39, 40]),
    ("equal-reward prompts", [140, 86, 75]),
    ("gradient norm", [23, 190, 207]),
];

/// `(quantity, field, format)`: one line of one row.
type LineKey = (&'static str, &'static str, &'static str);

/// The rows of one RL stage's `metrics.jsonl` (`text`, named `file` in
/// errors), smoothed, labelled with its model, sweep point and replicate:
/// `set` is the quantity, `metric` the field, `format` the format of a
/// per-format line.
pub fn training_rows(
    text: &str,
    file: &str,
    (model, point, replicate): (&str, &str, i64),
) -> Result<Vec<MetricRow>, ReportError> {
    let mut lines: BTreeMap<LineKey, Vec<(u64, Option<f64>)>> = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let malformed = |message: String| ReportError::Malformed {
            file: file.to_string(),
            line: index + 1,
            message,
        };
        let row: serde_json::Value =
            serde_json::from_str(line).map_err(|error| malformed(error.to_string()))?;
        let step = row
            .get("step")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| malformed("no whole `step`".to_string()))?;
        for quantity in QUANTITIES {
            for &(field, format_field, _) in quantity.lines {
                let value = row.get(field).and_then(serde_json::Value::as_f64);
                lines
                    .entry((quantity.name, field, ""))
                    .or_default()
                    .push((step, value));
                let Some(format_field) = format_field else {
                    continue;
                };
                for format in FORMATS {
                    let value = row
                        .get("formats")
                        .and_then(|formats| formats.get(format))
                        .and_then(|measured| measured.get(format_field))
                        .and_then(serde_json::Value::as_f64);
                    lines
                        .entry((quantity.name, field, format))
                        .or_default()
                        .push((step, value));
                }
            }
        }
    }
    let mut rows = Vec::new();
    for ((quantity, field, format), values) in lines {
        for (position, &(step, _)) in values.iter().enumerate() {
            let window = &values[(position + 1).saturating_sub(SMOOTHING_STEPS)..=position];
            let defined: Vec<f64> = window.iter().filter_map(|(_, value)| *value).collect();
            rows.push(MetricRow {
                eval: TRAINING.to_string(),
                model: model.to_string(),
                point: point.to_string(),
                replicate,
                step,
                set: quantity.to_string(),
                metric: field.to_string(),
                format: format.to_string(),
                value: (!defined.is_empty())
                    .then(|| defined.iter().sum::<f64>() / defined.len() as f64),
            });
        }
    }
    Ok(rows)
}

/// The training chart of rows from [`training_rows`]: one row of panels
/// per quantity, one column per RL stage and sweep point.
pub(super) fn training_figure(metric_rows: &[MetricRow]) -> Option<Figure> {
    let gathered = Gathered::new(metric_rows);
    let formats: Vec<&str> = FORMATS
        .iter()
        .copied()
        .filter(|format| {
            metric_rows
                .iter()
                .any(|row| row.format == *format && row.value.is_some())
        })
        .collect();
    let mut legend: Vec<LegendEntry> = formats
        .iter()
        .enumerate()
        .map(|(index, format)| LegendEntry {
            label: (*format).to_string(),
            color: format_color(format, index),
        })
        .collect();
    legend.extend(SCALAR_COLORS.iter().map(|(label, color)| LegendEntry {
        label: (*label).to_string(),
        color: *color,
    }));
    let legend_index = |label: &str| legend.iter().position(|entry| entry.label == label);
    let mut rows = Vec::new();
    let mut panels = Vec::new();
    for quantity in QUANTITIES {
        let Some(row) = gathered.rows.iter().find(|row| row.1 == quantity.name) else {
            continue;
        };
        let mut top: f64 = 0.0;
        for column in &gathered.columns {
            let mut series = Vec::new();
            for &(field, format_field, label) in quantity.lines {
                let mut drawn: Vec<(&str, &str)> = vec![("", label)];
                if format_field.is_some() {
                    drawn.extend(formats.iter().map(|format| (*format, *format)));
                }
                for (format, label) in drawn {
                    let points = gathered.line(row, column, field, format);
                    let Some(legend) = legend_index(label) else {
                        continue;
                    };
                    if !points.is_empty() {
                        series.push(Series { legend, points });
                    }
                }
            }
            top = top.max(highest(&series));
            panels.push(Panel::of_lines(gathered.panel_title(row, column), series));
        }
        rows.push(FigureRow::over_steps(
            row_label(&gathered.rows, row),
            quantity.y_label,
            quantity.fraction,
            top,
        ));
    }
    if rows.is_empty() {
        return None;
    }
    Some(Figure::of_grid(
        Chart::Training,
        legend,
        rows,
        panels,
        &gathered,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(step: u64, reward: f64, code_reward: Option<f64>) -> String {
        serde_json::json!({
            "step": step,
            "reward": reward,
            "truncated": 0.25,
            "completion_length": 80.0,
            "entropy": 0.5,
            "kl_per_token": 0.01,
            "equal_reward_groups": 0.5,
            "gradient_norm": 2.0,
            "formats": {
                "code": { "reward": code_reward, "truncated": 0.0, "length": 70.0 },
                "code_text": { "reward": null, "truncated": null, "length": null },
                "prose": { "reward": 0.0, "truncated": 1.0, "length": 120.0 },
            },
        })
        .to_string()
    }

    fn value(rows: &[MetricRow], step: u64, set: &str, metric: &str, format: &str) -> Option<f64> {
        rows.iter()
            .find(|row| {
                row.step == step && row.set == set && row.metric == metric && row.format == format
            })
            .and_then(|row| row.value)
    }

    #[test]
    fn points_are_means_of_the_last_steps_that_measured_them() {
        let text: Vec<String> = (1..=12)
            .map(|step| line(step, step as f64, (step % 2 == 0).then_some(step as f64)))
            .collect();
        let rows = training_rows(&text.join("\n"), "rl.0/metrics.jsonl", ("tuned", "", 0)).unwrap();
        // Step 3: the mean of steps 1 to 3.
        assert_eq!(value(&rows, 3, "reward", "reward", ""), Some(2.0));
        // Step 12: the mean of steps 3 to 12.
        assert_eq!(value(&rows, 12, "reward", "reward", ""), Some(7.5));
        // Code was measured at even steps only: 4, 6, ..., 12 at step 12.
        assert_eq!(value(&rows, 12, "reward", "reward", "code"), Some(8.0));
        assert_eq!(value(&rows, 1, "reward", "reward", "code"), None);
        // A format no sample used has no value.
        assert_eq!(value(&rows, 5, "reward", "reward", "code_text"), None);
        assert_eq!(
            value(&rows, 5, "cut at max_new_tokens", "truncated", "prose"),
            Some(1.0)
        );
        assert_eq!(
            value(&rows, 5, "answer length", "completion_length", "code"),
            Some(70.0)
        );
    }

    #[test]
    fn the_figure_has_a_row_per_quantity_and_a_column_per_stage() {
        let text: Vec<String> = (1..=30).map(|step| line(step, 0.5, Some(0.75))).collect();
        let mut rows = training_rows(&text.join("\n"), "a", ("tuned", "kl=0", 0)).unwrap();
        rows.extend(training_rows(&text.join("\n"), "b", ("tuned", "kl=0.01", 0)).unwrap());
        let figure = training_figure(&rows).unwrap();
        assert_eq!(figure.rows.len(), QUANTITIES.len());
        assert_eq!(figure.columns, 2);
        assert_eq!(figure.steps.len(), 30);
        let labels: Vec<&str> = figure
            .legend
            .iter()
            .map(|entry| entry.label.as_str())
            .collect();
        // code_text was never measured: no legend entry.
        assert_eq!(&labels[..3], ["code", "prose", "all samples"]);
        // The reward panel: all samples, code and prose.
        assert_eq!(figure.panels[0].series.len(), 3);
        assert_eq!(figure.rows[0].y_maximum, 1.0);
        let length_row = figure
            .rows
            .iter()
            .position(|row| row.label == "answer length")
            .unwrap();
        assert_eq!(figure.rows[length_row].y_maximum, 132.0);
        assert!(training_figure(&[]).is_none());
    }

    #[test]
    fn a_malformed_line_is_named() {
        let error = training_rows(
            "{\"step\": 1}\nnot json",
            "rl.0/metrics.jsonl",
            ("tuned", "", 0),
        )
        .unwrap_err();
        assert!(error.to_string().contains("rl.0/metrics.jsonl"), "{error}");
        assert!(error.to_string().contains('2'), "{error}");
    }
}
