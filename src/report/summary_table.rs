//! [`SummaryRow`]: the numbers a reader quotes from a report. Every measured
//! quantity of every panel at its first and its last evaluated step, as the
//! mean, minimum and maximum over replicates.
//!
//! The panels are the charts' panels (one per evaluation set and evaluated
//! stage and sweep point), so a number in the table is the end of a line in
//! a chart.

use std::collections::BTreeSet;

use super::gathered::{column_title, row_label, Gathered};
use super::{MetricRow, ReplicateSpread};

/// The per-format metrics listed first, in this order.
const PER_FORMAT_FIRST: [&str; 2] = ["format_share", "format_accuracy"];

/// One quantity of one panel at the first and the last evaluated step.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// The evaluation set (and the evaluation when a report has several).
    pub set: String,
    /// The stage and sweep point (the panel's title).
    pub panel: String,
    /// The metric (`pass@1`, `format_share`, ...).
    pub metric: String,
    /// The format of a per-format metric, empty otherwise.
    pub format: String,
    /// The first step with a value, and the value over replicates there.
    pub first: (u64, ReplicateSpread),
    /// The last step with a value, when it is not the first.
    pub last: Option<(u64, ReplicateSpread)>,
}

/// The summary of `metric_rows`: panel by panel, the accuracy metrics first
/// (`pass@1`, `pass@k`, `maj@k`, then others), then the per-format ones
/// (`format_share`, `format_accuracy`, then others), each format in the
/// charts' order. A quantity no replicate defined is left out.
pub fn summary_rows(metric_rows: &[MetricRow]) -> Vec<SummaryRow> {
    let gathered = Gathered::new(metric_rows);
    let formats = gathered.formats();
    let accuracy = gathered.accuracy_metrics();
    let accuracy: Vec<&str> = accuracy.iter().map(String::as_str).collect();
    let mut table = Vec::new();
    for row in &gathered.rows {
        for column in &gathered.columns {
            let Some(values) = gathered.panel_values(row, column) else {
                continue;
            };
            let quantities: BTreeSet<(&str, &str)> = values
                .keys()
                .map(|(metric, format, _)| (metric.as_str(), format.as_str()))
                .filter(|(_, format)| format.is_empty() || formats.iter().any(|f| f == format))
                .collect();
            let mut quantities: Vec<(&str, &str)> = quantities.into_iter().collect();
            quantities.sort_by_key(|&(metric, format)| {
                let position = |list: &[&str], name: &str| {
                    list.iter()
                        .position(|known| *known == name)
                        .unwrap_or(list.len())
                };
                let format_position = formats.iter().position(|known| known == format);
                if format.is_empty() {
                    (0, position(&accuracy, metric), metric, format_position)
                } else {
                    (
                        1,
                        position(&PER_FORMAT_FIRST, metric),
                        metric,
                        format_position,
                    )
                }
            });
            for (metric, format) in quantities {
                let line = gathered.line(row, column, metric, format);
                let (Some(first), Some(last)) = (line.first(), line.last()) else {
                    continue;
                };
                table.push(SummaryRow {
                    set: row_label(&gathered.rows, row),
                    panel: column_title(column),
                    metric: metric.to_string(),
                    format: format.to_string(),
                    first: *first,
                    last: (last.0 != first.0).then_some(*last),
                });
            }
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        point: &str,
        replicate: i64,
        step: u64,
        metric: &str,
        format: &str,
        value: Option<f64>,
    ) -> MetricRow {
        MetricRow::held_out("tuned", point, replicate, step, (metric, format), value)
    }

    #[test]
    fn first_and_last_step_of_each_quantity_with_the_spread_over_replicates() {
        let mut rows = Vec::new();
        for (replicate, last_share) in [(0, 0.75), (1, 0.25), (2, 0.5)] {
            for (step, share) in [(0, 0.5), (4, 0.625), (9, last_share)] {
                rows.push(row(
                    "kl=0",
                    replicate,
                    step,
                    "format_share",
                    "prose",
                    Some(share),
                ));
                rows.push(row(
                    "kl=0",
                    replicate,
                    step,
                    "format_share",
                    "code",
                    Some(1.0 - share),
                ));
                rows.push(row("kl=0", replicate, step, "maj@8", "", Some(0.25)));
                rows.push(row(
                    "kl=0",
                    replicate,
                    step,
                    "pass@1",
                    "",
                    Some(step as f64 / 16.0),
                ));
                // Undefined at the last step in every replicate.
                let accuracy = (step < 9).then_some(0.5);
                rows.push(row(
                    "kl=0",
                    replicate,
                    step,
                    "format_accuracy",
                    "code",
                    accuracy,
                ));
            }
        }
        let table = summary_rows(&rows);
        let described: Vec<(&str, &str)> = table
            .iter()
            .map(|row| (row.metric.as_str(), row.format.as_str()))
            .collect();
        assert_eq!(
            described,
            [
                ("pass@1", ""),
                ("maj@8", ""),
                ("format_share", "code"),
                ("format_share", "prose"),
                ("format_accuracy", "code"),
            ]
        );
        let prose = &table[3];
        assert_eq!(
            (prose.set.as_str(), prose.panel.as_str()),
            ("held_out", "tuned · kl=0")
        );
        assert_eq!(prose.first.0, 0);
        assert_eq!(prose.first.1.mean, 0.5);
        assert!(!prose.first.1.has_spread());
        let (step, last) = prose.last.expect("a last step");
        assert_eq!(step, 9);
        assert_eq!(
            (last.mean, last.minimum, last.maximum, last.count),
            (0.5, 0.25, 0.75, 3)
        );
        assert_eq!(
            table[0].last.map(|(_, spread)| spread.mean),
            Some(9.0 / 16.0)
        );
        // The accuracy's last defined step is 4.
        assert_eq!(table[4].last.map(|(step, _)| step), Some(4));
    }

    #[test]
    fn a_quantity_measured_at_one_step_has_no_last_step() {
        let rows = vec![row("", 0, 0, "pass@1", "", Some(0.5))];
        let table = summary_rows(&rows);
        assert_eq!(table.len(), 1);
        assert_eq!(table[0].panel, "tuned");
        assert_eq!(table[0].last, None);
    }
}
