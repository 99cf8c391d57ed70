//! [`MetricsDiff`]: two sets of metric rows compared value by value, for
//! `echolab diff`.
//!
//! Each side's values are first averaged over replicates. When each side is
//! one evaluated stage (a sweep point, a run), values are matched by
//! `(set, metric, format, step)`: this compares two points of a sweep or one
//! stage in two experiments. When a side holds several stages (a whole
//! experiment's report), the stage (`main:tuned[kl=constant(0)]`) is part of
//! the match too.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{MetricRow, ReplicateSpread};

/// One compared value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DiffLine {
    /// The evaluated stage, when sides hold several (else empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stage: String,
    /// The evaluation set.
    pub set: String,
    /// The metric.
    pub metric: String,
    /// The format of a per-format metric, else empty.
    pub format: String,
    /// The RL step.
    pub step: u64,
    /// The first side's value (mean over replicates), if it has one.
    pub a: Option<f64>,
    /// The second side's.
    pub b: Option<f64>,
}

impl DiffLine {
    /// `b - a`, when both are there.
    pub fn difference(&self) -> Option<f64> {
        Some(self.b? - self.a?)
    }
}

/// What a comparison found, in numbers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DiffSummary {
    /// Values present on both sides.
    pub compared: usize,
    /// Of those, how many differ at all.
    pub differing: usize,
    /// Values only the first side has.
    pub only_a: usize,
    /// Values only the second side has.
    pub only_b: usize,
    /// The largest `|b - a|`, if any value was compared.
    pub largest_difference: Option<f64>,
}

/// Two sides compared.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsDiff {
    /// How the first side was named on the command line.
    pub a_label: String,
    /// The second.
    pub b_label: String,
    /// Every value of either side, in order of stage, set, metric, format, step.
    pub lines: Vec<DiffLine>,
}

type DiffKey = (String, String, String, String, u64);

/// Mean over replicates of each value, by key; the stage kept only if `by_stage`.
fn means(rows: &[MetricRow], by_stage: bool) -> BTreeMap<DiffKey, f64> {
    let mut gathered: BTreeMap<DiffKey, Vec<f64>> = BTreeMap::new();
    for row in rows {
        let stage = if by_stage {
            row.group_label()
        } else {
            String::new()
        };
        let values = gathered
            .entry((
                stage,
                row.set.clone(),
                row.metric.clone(),
                row.format.clone(),
                row.step,
            ))
            .or_default();
        if let Some(value) = row.value {
            values.push(value);
        }
    }
    gathered
        .into_iter()
        .filter_map(|(key, values)| Some((key, ReplicateSpread::of(&values)?.mean)))
        .collect()
}

/// How many evaluated stages (replicates aside) the rows come from.
fn stage_count(rows: &[MetricRow]) -> usize {
    let mut stages: Vec<String> = rows.iter().map(MetricRow::group_label).collect();
    stages.sort();
    stages.dedup();
    stages.len()
}

impl MetricsDiff {
    /// Compares side `a` with side `b`.
    pub fn compare(a_label: &str, a: &[MetricRow], b_label: &str, b: &[MetricRow]) -> MetricsDiff {
        let by_stage = stage_count(a) > 1 || stage_count(b) > 1;
        let a_means = means(a, by_stage);
        let b_means = means(b, by_stage);
        let mut keys: Vec<&DiffKey> = a_means.keys().chain(b_means.keys()).collect();
        keys.sort();
        keys.dedup();
        let lines = keys
            .into_iter()
            .map(|key| {
                let (stage, set, metric, format, step) = key.clone();
                DiffLine {
                    stage,
                    set,
                    metric,
                    format,
                    step,
                    a: a_means.get(key).copied(),
                    b: b_means.get(key).copied(),
                }
            })
            .collect();
        MetricsDiff {
            a_label: a_label.to_string(),
            b_label: b_label.to_string(),
            lines,
        }
    }

    /// The counts and the largest difference.
    pub fn summary(&self) -> DiffSummary {
        let mut summary = DiffSummary {
            compared: 0,
            differing: 0,
            only_a: 0,
            only_b: 0,
            largest_difference: None,
        };
        for line in &self.lines {
            match (line.a, line.b) {
                (Some(a), Some(b)) => {
                    summary.compared += 1;
                    if a != b {
                        summary.differing += 1;
                    }
                    let size = (b - a).abs();
                    if summary
                        .largest_difference
                        .is_none_or(|largest| size > largest)
                    {
                        summary.largest_difference = Some(size);
                    }
                }
                (Some(_), None) => summary.only_a += 1,
                (None, Some(_)) => summary.only_b += 1,
                (None, None) => {}
            }
        }
        summary
    }

    /// The summary in one line.
    pub fn summary_line(&self) -> String {
        let summary = self.summary();
        let largest = match (summary.largest_difference, self.largest_line()) {
            (Some(size), Some(line)) if size > 0.0 => {
                let format = if line.format.is_empty() {
                    String::new()
                } else {
                    format!(" {}", line.format)
                };
                let stage = if line.stage.is_empty() {
                    String::new()
                } else {
                    format!("{} ", line.stage)
                };
                format!(
                    " (largest |B-A| {size:.4}: {stage}{} {}{format} step {})",
                    line.set, line.metric, line.step
                )
            }
            _ => String::new(),
        };
        format!(
            "{} values compared, {} differ{largest}; {} only in A, {} only in B",
            summary.compared, summary.differing, summary.only_a, summary.only_b
        )
    }

    fn largest_line(&self) -> Option<&DiffLine> {
        self.lines
            .iter()
            .filter_map(|line| Some((line, line.difference()?.abs())))
            .fold(
                None,
                |best: Option<(&DiffLine, f64)>, (line, size)| match best {
                    Some((_, best_size)) if best_size >= size => best,
                    _ => Some((line, size)),
                },
            )
            .map(|(line, _)| line)
    }

    /// Aligned columns for people, then the summary line.
    pub fn to_text(&self) -> String {
        let by_stage = self.lines.iter().any(|line| !line.stage.is_empty());
        let number = |value: Option<f64>| {
            value.map_or_else(|| "—".to_string(), |value| format!("{value:.4}"))
        };
        let mut table: Vec<Vec<String>> = Vec::new();
        let mut header = Vec::new();
        if by_stage {
            header.push("stage".to_string());
        }
        header.extend(["set", "metric", "format", "step", "A", "B", "B-A"].map(str::to_string));
        table.push(header);
        for line in &self.lines {
            let mut cells = Vec::new();
            if by_stage {
                cells.push(line.stage.clone());
            }
            cells.push(line.set.clone());
            cells.push(line.metric.clone());
            cells.push(if line.format.is_empty() {
                "-".to_string()
            } else {
                line.format.clone()
            });
            cells.push(line.step.to_string());
            cells.push(number(line.a));
            cells.push(number(line.b));
            cells.push(line.difference().map_or_else(
                || "—".to_string(),
                |difference| {
                    if difference == 0.0 {
                        "0".to_string()
                    } else {
                        format!("{difference:+.4}")
                    }
                },
            ));
            table.push(cells);
        }
        let columns = table[0].len();
        let widths: Vec<usize> = (0..columns)
            .map(|column| {
                table
                    .iter()
                    .map(|cells| cells[column].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        // Text columns (up to the step) align left, numbers right.
        let numeric_from = columns - 4;
        let mut text = format!("A: {}\nB: {}\n", self.a_label, self.b_label);
        for cells in &table {
            let mut line = String::new();
            for (column, cell) in cells.iter().enumerate() {
                let padding = " ".repeat(widths[column] - cell.chars().count());
                if column > 0 {
                    line.push_str("  ");
                }
                if column >= numeric_from {
                    line.push_str(&padding);
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&padding);
                }
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text.push_str(&self.summary_line());
        text.push('\n');
        text
    }

    /// `stage,set,metric,format,step,a,b,difference`, values exact.
    pub fn to_csv(&self) -> String {
        let exact = |value: Option<f64>| {
            value.map_or_else(String::new, |value| {
                serde_json::Value::from(value).to_string()
            })
        };
        let mut csv = String::from("stage,set,metric,format,step,a,b,difference\n");
        for line in &self.lines {
            let _ = writeln!(
                csv,
                "\"{}\",{},{},{},{},{},{},{}",
                line.stage.replace('"', "\"\""),
                line.set,
                line.metric,
                line.format,
                line.step,
                exact(line.a),
                exact(line.b),
                exact(line.difference()),
            );
        }
        csv
    }

    /// `{"a": ..., "b": ..., "values": [...], "summary": {...}}`.
    pub fn to_json(&self) -> String {
        let values: Vec<serde_json::Value> = self
            .lines
            .iter()
            .map(|line| {
                let mut value = serde_json::to_value(line).unwrap_or(serde_json::Value::Null);
                if let Some(object) = value.as_object_mut() {
                    object.insert(
                        "difference".to_string(),
                        serde_json::json!(line.difference()),
                    );
                }
                value
            })
            .collect();
        let document = serde_json::json!({
            "a": self.a_label,
            "b": self.b_label,
            "values": values,
            "summary": self.summary(),
        });
        let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(point: &str, replicate: i64, step: u64, metric: &str, value: f64) -> MetricRow {
        MetricRow::held_out("tuned", point, replicate, step, (metric, ""), Some(value))
    }

    #[test]
    fn two_sweep_points_are_matched_by_set_metric_format_and_step() {
        let a = vec![
            row("kl=0", 0, 0, "pass@1", 0.1),
            row("kl=0", 0, 9, "pass@1", 0.25),
        ];
        let b = vec![
            row("kl=1", 0, 0, "pass@1", 0.1),
            row("kl=1", 0, 9, "pass@1", 0.5),
            row("kl=1", 1, 9, "pass@1", 0.25),
            row("kl=1", 0, 19, "pass@1", 0.5),
        ];
        let diff = MetricsDiff::compare("A", &a, "B", &b);
        assert_eq!(diff.lines.len(), 3);
        assert!(diff.lines.iter().all(|line| line.stage.is_empty()));
        assert_eq!(diff.lines[1].a, Some(0.25));
        assert_eq!(diff.lines[1].b, Some(0.375), "mean of the two replicates");
        assert_eq!(diff.lines[1].difference(), Some(0.125));
        let summary = diff.summary();
        assert_eq!(
            (
                summary.compared,
                summary.differing,
                summary.only_a,
                summary.only_b
            ),
            (2, 1, 0, 1)
        );
        assert_eq!(
            diff.summary_line(),
            "2 values compared, 1 differ (largest |B-A| 0.1250: held_out pass@1 step 9); 0 only in A, 1 only in B"
        );
        let text = diff.to_text();
        assert!(
            text.contains("held_out  pass@1  -          9  0.2500  0.3750  +0.1250\n"),
            "{text}"
        );
        assert!(diff
            .to_csv()
            .contains("\"\",held_out,pass@1,,9,0.25,0.375,0.125\n"));
        let json: serde_json::Value = serde_json::from_str(&diff.to_json()).unwrap();
        assert_eq!(json["summary"]["differing"], 1);
        assert_eq!(json["values"][2]["a"], serde_json::Value::Null);
    }

    #[test]
    fn sides_of_several_stages_are_matched_stage_by_stage() {
        let a = vec![
            row("kl=0", 0, 0, "pass@1", 0.1),
            row("kl=1", 0, 0, "pass@1", 0.2),
        ];
        let diff = MetricsDiff::compare("A", &a, "B", &a);
        assert_eq!(diff.lines.len(), 2);
        assert_eq!(diff.lines[0].stage, "main:tuned[kl=0]");
        assert_eq!(diff.summary().differing, 0);
        assert!(diff.to_text().starts_with("A: A\nB: B\nstage"));
    }
}
