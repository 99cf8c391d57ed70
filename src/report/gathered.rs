//! [`Gathered`]: a report's metric rows arranged as the grid every chart
//! and the step-0/last-step table read: one row per (evaluation, set), one
//! column per (evaluated stage, sweep point), and in each panel the values
//! of every (metric, format, step), replicates kept apart. Accuracies
//! within a format that almost no answer used are left out here
//! ([`MIN_SHARE_FOR_ACCURACY`]).

use std::collections::{BTreeMap, BTreeSet};

use super::{MetricRow, ReplicateSpread};

/// The formats of the study, in the order they are drawn.
const MAIN_FORMATS: &[&str] = &["code", "code_text", "prose"];
/// A replicate's accuracy within a format is left out of the charts where
/// less than this share of its answers used the format: one or two answers
/// make it 0 or 1 and would draw a line or a band from almost nothing.
/// `metrics.csv` keeps every value.
pub const MIN_SHARE_FOR_ACCURACY: f64 = 0.01;

/// `(eval, set)`, a row of the grid.
pub(super) type RowKey = (String, String);
/// `(model, point)`, a column of the grid.
pub(super) type ColumnKey = (String, String);
/// `(metric, format, step)` within one panel.
pub(super) type ValueKey = (String, String, u64);

/// `(eval, set, model, point, replicate, step, format)`: one replicate's
/// format at one step.
type ReplicateFormat<'a> = (&'a str, &'a str, &'a str, &'a str, i64, u64, &'a str);

fn replicate_format(row: &MetricRow) -> ReplicateFormat<'_> {
    (
        &row.eval,
        &row.set,
        &row.model,
        &row.point,
        row.replicate,
        row.step,
        &row.format,
    )
}

/// Every row's values gathered by panel, replicates kept apart.
pub(super) struct Gathered {
    pub(super) rows: Vec<RowKey>,
    pub(super) columns: Vec<ColumnKey>,
    values: BTreeMap<(RowKey, ColumnKey), BTreeMap<ValueKey, Vec<f64>>>,
}

impl Gathered {
    pub(super) fn new(metric_rows: &[MetricRow]) -> Gathered {
        // Replicates' (eval, set, model, point, replicate, step, format)
        // whose format share is below `MIN_SHARE_FOR_ACCURACY`.
        let scarce: BTreeSet<ReplicateFormat> = metric_rows
            .iter()
            .filter(|row| {
                row.metric == "format_share"
                    && row
                        .value
                        .is_some_and(|share| share < MIN_SHARE_FOR_ACCURACY)
            })
            .map(replicate_format)
            .collect();
        let mut rows = Vec::new();
        let mut all_columns: Vec<ColumnKey> = Vec::new();
        let mut values: BTreeMap<(RowKey, ColumnKey), BTreeMap<ValueKey, Vec<f64>>> =
            BTreeMap::new();
        for row in metric_rows {
            let row_key = (row.eval.clone(), row.set.clone());
            let column_key = (row.model.clone(), row.point.clone());
            if !rows.contains(&row_key) {
                rows.push(row_key.clone());
            }
            if !all_columns.contains(&column_key) {
                all_columns.push(column_key.clone());
            }
            let scarce_format =
                row.metric == "format_accuracy" && scarce.contains(&replicate_format(row));
            if let Some(value) = row
                .value
                .filter(|value| value.is_finite() && !scarce_format)
            {
                values
                    .entry((row_key, column_key))
                    .or_default()
                    .entry((row.metric.clone(), row.format.clone(), row.step))
                    .or_default()
                    .push(value);
            }
        }
        // Columns of stages evaluated at several steps, if there are any.
        let steps_of = |column: &ColumnKey| -> BTreeSet<u64> {
            values
                .iter()
                .filter(|((_, key), _)| key == column)
                .flat_map(|(_, measured)| measured.keys().map(|(_, _, step)| *step))
                .collect()
        };
        let over_steps: Vec<ColumnKey> = all_columns
            .iter()
            .filter(|column| steps_of(column).len() > 1)
            .cloned()
            .collect();
        let columns = if over_steps.is_empty() {
            all_columns
        } else {
            over_steps
        };
        Gathered {
            rows,
            columns,
            values,
        }
    }

    pub(super) fn panel_values(
        &self,
        row: &RowKey,
        column: &ColumnKey,
    ) -> Option<&BTreeMap<ValueKey, Vec<f64>>> {
        self.values.get(&(row.clone(), column.clone()))
    }

    /// The spread of one metric and format at each step of a panel.
    pub(super) fn line(
        &self,
        row: &RowKey,
        column: &ColumnKey,
        metric: &str,
        format: &str,
    ) -> Vec<(u64, ReplicateSpread)> {
        self.panel_values(row, column)
            .into_iter()
            .flatten()
            .filter(|((m, f, _), _)| m == metric && f == format)
            .filter_map(|((_, _, step), values)| Some((*step, ReplicateSpread::of(values)?)))
            .collect()
    }

    /// The formats with a value of `metric` anywhere: the study's three
    /// first, then others (`unknown`) only where their share was above 0.
    pub(super) fn formats(&self) -> Vec<String> {
        let mut present: BTreeSet<String> = BTreeSet::new();
        let mut shared: BTreeSet<String> = BTreeSet::new();
        for measured in self.values.values() {
            for ((metric, format, _), values) in measured {
                if format.is_empty() {
                    continue;
                }
                present.insert(format.clone());
                if metric == "format_share" && values.iter().any(|value| *value > 0.0) {
                    shared.insert(format.clone());
                }
            }
        }
        let mut formats: Vec<String> = MAIN_FORMATS
            .iter()
            .filter(|format| present.contains(**format))
            .map(|format| format.to_string())
            .collect();
        formats.extend(
            shared
                .into_iter()
                .filter(|format| !MAIN_FORMATS.contains(&format.as_str())),
        );
        formats
    }

    /// Whether any panel has a value of `metric`.
    pub(super) fn measures(&self, metric: &str) -> bool {
        self.values
            .values()
            .any(|measured| measured.keys().any(|(name, _, _)| name == metric))
    }

    /// `pass@1` first, then `pass@k` by k, then `maj@k` by k.
    pub(super) fn accuracy_metrics(&self) -> Vec<String> {
        let mut metrics: BTreeSet<(u8, u64, String)> = BTreeSet::new();
        for measured in self.values.values() {
            for (metric, _, _) in measured.keys() {
                let order = if metric.starts_with("pass@") {
                    0
                } else if metric.starts_with("maj@") {
                    1
                } else {
                    continue;
                };
                let k = metric
                    .split_once('@')
                    .and_then(|(_, k)| k.parse::<u64>().ok())
                    .unwrap_or(u64::MAX);
                metrics.insert((order, k, metric.clone()));
            }
        }
        metrics.into_iter().map(|(_, _, metric)| metric).collect()
    }

    pub(super) fn steps(&self) -> Vec<u64> {
        let steps: BTreeSet<u64> = self
            .values
            .values()
            .flat_map(|measured| measured.keys().map(|(_, _, step)| *step))
            .collect();
        steps.into_iter().collect()
    }

    pub(super) fn replicates(&self) -> usize {
        self.values
            .values()
            .flat_map(|measured| measured.values().map(Vec::len))
            .max()
            .unwrap_or(0)
    }

    /// The replicates behind one panel (0 when it has no value).
    fn panel_replicates(&self, row: &RowKey, column: &ColumnKey) -> usize {
        self.panel_values(row, column)
            .into_iter()
            .flat_map(|measured| measured.values().map(Vec::len))
            .max()
            .unwrap_or(0)
    }

    /// The fewest replicates behind any drawn panel with values: fewer than
    /// [`Gathered::replicates`] only in a partial report, where some seeds'
    /// evaluations are not cached yet.
    pub(super) fn fewest_replicates(&self) -> usize {
        self.rows
            .iter()
            .flat_map(|row| {
                self.columns
                    .iter()
                    .map(move |column| self.panel_replicates(row, column))
            })
            .filter(|&count| count > 0)
            .min()
            .unwrap_or(0)
    }

    /// A panel's title: [`column_title`], and how many replicates it has
    /// when that is fewer than the figure's others.
    pub(super) fn panel_title(&self, row: &RowKey, column: &ColumnKey) -> String {
        let title = column_title(column);
        match self.panel_replicates(row, column) {
            count if count == 0 || count >= self.replicates() => title,
            1 => format!("{title} (1 replicate)"),
            count => format!("{title} ({count} replicates)"),
        }
    }
}

/// A panel's title: the stage, and its sweep point when it has one.
pub(super) fn column_title((model, point): &ColumnKey) -> String {
    if point.is_empty() {
        model.clone()
    } else {
        format!("{model} · {point}")
    }
}

/// A row's heading: the set, and the evaluation when there are several.
pub(super) fn row_label(rows: &[RowKey], (eval, set): &RowKey) -> String {
    let evaluations: BTreeSet<&String> = rows.iter().map(|(eval, _)| eval).collect();
    if evaluations.len() > 1 {
        format!("{eval}: {set}")
    } else {
        set.clone()
    }
}
