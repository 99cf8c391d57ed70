//! [`Figure`]: what each chart of a report shows, computed from metric rows
//! before anything is drawn (so it can be tested as numbers).
//!
//! Every chart is a grid of panels: one column per evaluated stage and sweep
//! point (side by side, so the swept parameter reads left to right), one row
//! per evaluation set (and, for the winner chart, per quantity). Values are
//! means over replicates; the spread (minimum to maximum) is kept with them.
//! A stage evaluated at a single step (a pretrained model) gets a column only
//! when no stage was evaluated at several steps: its step 0 is the RL
//! stages' step 0 anyway.

use super::gathered::{row_label, Gathered};
use super::training_chart::training_figure;
use super::{summary_rows, MetricRow, ReplicateSpread, SummaryRow};

/// Greedy accuracy with the answer forced to start in a format.
const FORCED_METRIC: &str = "forced_pass@1";

/// Colours of the three formats and of anything else.
const FORMAT_COLORS: &[(&str, [u8; 3])] = &[
    ("code", [31, 119, 180]),
    ("code_text", [255, 127, 14]),
    ("prose", [44, 160, 44]),
];
/// Colours of further lines, in order.
const PALETTE: &[[u8; 3]] = &[
    [148, 103, 189],
    [214, 39, 40],
    [140, 86, 75],
    [23, 190, 207],
    [188, 189, 34],
    [227, 119, 194],
    [127, 127, 127],
];

/// A chart a report can draw: the `charts` of a `report` block, less
/// `run_table` (a table, not a chart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Chart {
    /// The share of each format over RL steps.
    FormatShare,
    /// `pass@k` and `maj@k` over RL steps.
    Accuracy,
    /// Accuracy within each format over RL steps.
    FormatAccuracy,
    /// Each format's share at step 0 and at the last step, and its accuracy
    /// at step 0: which format won, and was it the most accurate or the most
    /// common at the start?
    Winner,
    /// What each RL stage's own metrics say step by step: reward,
    /// truncation and length per format, entropy, KL, equal-reward prompts,
    /// gradient norm. Drawn from the RL stages' `metrics.jsonl`, not from
    /// evaluations.
    Training,
}

impl Chart {
    /// Every chart, in the order a page shows them.
    pub const ALL: [Chart; 5] = [
        Chart::FormatShare,
        Chart::Accuracy,
        Chart::FormatAccuracy,
        Chart::Winner,
        Chart::Training,
    ];

    /// The chart of a `charts` value; `None` for `run_table` and unknown names.
    pub fn from_name(name: &str) -> Option<Chart> {
        Chart::ALL.into_iter().find(|chart| chart.name() == name)
    }

    /// Its name in the language and its files' stem (`format_share.svg`).
    pub fn name(self) -> &'static str {
        match self {
            Chart::FormatShare => "format_share",
            Chart::Accuracy => "accuracy",
            Chart::FormatAccuracy => "format_accuracy",
            Chart::Winner => "winner",
            Chart::Training => "training",
        }
    }

    /// Its heading.
    pub fn title(self) -> &'static str {
        match self {
            Chart::FormatShare => "Share of each format over RL steps",
            Chart::Accuracy => "pass@1, pass@k and maj@k over RL steps",
            Chart::FormatAccuracy => "Accuracy within each format over RL steps",
            Chart::Winner => "Which format won, and what it looked like at step 0",
            Chart::Training => "What each RL run saw, step by step",
        }
    }

    /// What it shows, in a sentence for the page.
    pub fn explanation(self) -> &'static str {
        match self {
            Chart::FormatShare => "Fraction of sampled answers written in each format, at each evaluated RL step (log scale, step 0 included). Lines are means over replicates; shaded bands span the minimum to the maximum replicate.",
            Chart::Accuracy => "Greedy pass@1, and pass@k and maj@k over the sampled answers, on each evaluation set. Lines are means over replicates; bands span minimum to maximum.",
            Chart::FormatAccuracy => "Accuracy of the answers written in each format (undefined, and not drawn, when no answer used it; a replicate's value is left out where under 1% of its answers used the format, and metrics.csv keeps it). Lines are means over replicates; bands span minimum to maximum.",
            Chart::Winner => "Top: each format's share at step 0 and at the last step (the winner has the largest final share). Bottom: each format's accuracy at step 0: of the sampled answers written in it (undefined where no answer, or under 1% of a replicate's answers, used it), and (when measured) greedy with the answer forced to start in it. Bars are means over replicates; whiskers span minimum to maximum.",
            Chart::Training => "From each RL stage's own metrics.jsonl, over its training steps: the mean reward of all samples and of each format's; the share of samples cut at max_new_tokens before their end; answer length in tokens; the policy's entropy and its KL to the reference model, per token; the share of prompts whose samples all got the same reward (GRPO learns nothing from them); the gradient norm before clipping. Each point is the mean of 10 steps: its own and those before it. Lines are means over replicates; bands span minimum to maximum.",
        }
    }
}

/// One legend entry: a label and its colour.
#[derive(Debug, Clone, PartialEq)]
pub struct LegendEntry {
    /// What it names.
    pub label: String,
    /// Its colour, RGB.
    pub color: [u8; 3],
}

/// One row of panels, sharing an axis.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureRow {
    /// The row's heading (`held_out`).
    pub label: String,
    /// The vertical axis' label.
    pub y_label: String,
    /// The top of the vertical axis (the bottom is 0).
    pub y_maximum: f64,
}

/// A line over RL steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Index into the figure's legend.
    pub legend: usize,
    /// `(step, spread over replicates)`, by step.
    pub points: Vec<(u64, ReplicateSpread)>,
}

/// A bar: one quantity of one category.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Index into the panel's categories.
    pub category: usize,
    /// Index into the figure's legend.
    pub legend: usize,
    /// The value over replicates.
    pub value: ReplicateSpread,
}

/// One panel of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Its title (the stage and sweep point).
    pub title: String,
    /// Lines over RL steps.
    pub series: Vec<Series>,
    /// The categories of bars (formats), in order.
    pub categories: Vec<String>,
    /// Bars, if the panel is a bar chart.
    pub bars: Vec<Bar>,
}

/// A whole chart: a grid of panels with one legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Which chart.
    pub chart: Chart,
    /// The legend, shared by every panel.
    pub legend: Vec<LegendEntry>,
    /// The rows of the grid.
    pub rows: Vec<FigureRow>,
    /// The number of columns.
    pub columns: usize,
    /// `rows.len() * columns` panels, row by row.
    pub panels: Vec<Panel>,
    /// Every evaluated RL step of any panel (the step axis).
    pub steps: Vec<u64>,
    /// The most replicates any value was averaged over.
    pub replicates: usize,
    /// The fewest replicates behind a panel with values; fewer than
    /// `replicates` only in a partial report, and then the panels with
    /// fewer say so in their titles.
    pub fewest_replicates: usize,
}

/// One line of the table under the winner chart.
#[derive(Debug, Clone, PartialEq)]
pub struct WinnerRow {
    /// The evaluation set.
    pub set: String,
    /// The stage and sweep point (the panel's title).
    pub panel: String,
    /// The format with the largest mean share at the last step, and that share.
    pub winner: (String, f64),
    /// The format with the largest share at step 0, and that share.
    pub most_common_at_start: (String, f64),
    /// The format with the highest accuracy at step 0, and that accuracy
    /// (`None` when no format's accuracy is defined).
    pub most_accurate_at_start: Option<(String, f64)>,
    /// The format with the highest greedy accuracy at step 0 when the
    /// answer is forced to start in it (`forced_pass@1`), and that accuracy
    /// (`None` when not measured).
    pub most_accurate_when_forced: Option<(String, f64)>,
}

/// The colour of a format (answers of no format in grey).
pub(super) fn format_color(format: &str, index: usize) -> [u8; 3] {
    if format == "unknown" {
        return [150, 150, 150];
    }
    FORMAT_COLORS
        .iter()
        .find(|(name, _)| *name == format)
        .map_or(PALETTE[index % PALETTE.len()], |(_, color)| *color)
}

impl Panel {
    /// A panel of lines over steps.
    pub(super) fn of_lines(title: String, series: Vec<Series>) -> Panel {
        Panel {
            title,
            series,
            categories: Vec::new(),
            bars: Vec::new(),
        }
    }
}

impl FigureRow {
    /// A row of panels over steps whose values reach `top`: up to 1 for a
    /// `fraction` (shares), else up to a round number above `top`.
    pub(super) fn over_steps(label: String, y_label: &str, fraction: bool, top: f64) -> FigureRow {
        FigureRow {
            label,
            y_label: y_label.to_string(),
            y_maximum: if fraction { 1.0 } else { nice_maximum(top) },
        }
    }
}

/// The highest value (replicate maximum) of any point of `series`.
pub(super) fn highest(series: &[Series]) -> f64 {
    series
        .iter()
        .flat_map(|line| &line.points)
        .fold(0.0, |top, (_, spread)| top.max(spread.maximum))
}

/// A round top for an axis showing values up to `maximum` (at most 1 for
/// fractions above 0.5; 1 when nothing is above 0).
pub(super) fn nice_maximum(maximum: f64) -> f64 {
    const NICE: &[f64] = &[0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0];
    // Nothing above 0 (an accuracy that stayed at 0): the whole unit
    // range, not a magnified 0 to 0.01.
    if maximum <= 0.0 {
        return 1.0;
    }
    NICE.iter()
        .copied()
        .find(|nice| maximum <= *nice)
        .unwrap_or_else(|| (maximum * 1.1).ceil())
}

impl Figure {
    /// The figure of `chart` for these rows; `None` when they hold nothing
    /// it shows.
    /// The training chart reads the rows of
    /// [`training_rows`](super::training_rows), the others evaluations'.
    pub fn build(chart: Chart, metric_rows: &[MetricRow]) -> Option<Figure> {
        let gathered = Gathered::new(metric_rows);
        let figure = match chart {
            Chart::Training => training_figure(metric_rows),
            Chart::FormatShare => Figure::over_steps(chart, &gathered, "format_share", None),
            Chart::FormatAccuracy => Figure::over_steps(chart, &gathered, "format_accuracy", None),
            Chart::Accuracy => {
                let metrics = gathered.accuracy_metrics();
                Figure::over_steps(chart, &gathered, "", Some(&metrics))
            }
            Chart::Winner => Figure::winner(&gathered),
        };
        figure.filter(|figure| {
            figure
                .panels
                .iter()
                .any(|panel| !panel.series.is_empty() || !panel.bars.is_empty())
        })
    }

    /// Lines over steps: one per format of `metric`, or one per metric of
    /// `metrics` (metrics without a format).
    fn over_steps(
        chart: Chart,
        gathered: &Gathered,
        metric: &str,
        metrics: Option<&[String]>,
    ) -> Option<Figure> {
        // (legend label, metric, format)
        let lines: Vec<(String, String, String)> = match metrics {
            Some(metrics) => metrics
                .iter()
                .map(|metric| (metric.clone(), metric.clone(), String::new()))
                .collect(),
            None => gathered
                .formats()
                .into_iter()
                .map(|format| (format.clone(), metric.to_string(), format))
                .collect(),
        };
        if lines.is_empty() {
            return None;
        }
        let legend: Vec<LegendEntry> = lines
            .iter()
            .enumerate()
            .map(|(index, (label, _, format))| LegendEntry {
                label: label.clone(),
                color: if metrics.is_some() {
                    PALETTE[index % PALETTE.len()]
                } else {
                    format_color(format, index)
                },
            })
            .collect();
        let y_label = match chart {
            Chart::FormatShare => "share of answers",
            Chart::Accuracy => "accuracy",
            _ => "accuracy within format",
        };
        let mut rows = Vec::new();
        let mut panels = Vec::new();
        for row in &gathered.rows {
            let mut top: f64 = 0.0;
            for column in &gathered.columns {
                let series: Vec<Series> = lines
                    .iter()
                    .enumerate()
                    .map(|(legend, (_, metric, format))| Series {
                        legend,
                        points: gathered.line(row, column, metric, format),
                    })
                    .filter(|series| !series.points.is_empty())
                    .collect();
                top = top.max(highest(&series));
                panels.push(Panel::of_lines(gathered.panel_title(row, column), series));
            }
            rows.push(FigureRow::over_steps(
                row_label(&gathered.rows, row),
                y_label,
                chart == Chart::FormatShare,
                top,
            ));
        }
        Some(Figure::of_grid(chart, legend, rows, panels, gathered))
    }

    /// A figure of `rows` and `panels` laid out on `gathered`'s columns,
    /// with its steps and replicates.
    pub(super) fn of_grid(
        chart: Chart,
        legend: Vec<LegendEntry>,
        rows: Vec<FigureRow>,
        panels: Vec<Panel>,
        gathered: &Gathered,
    ) -> Figure {
        Figure {
            chart,
            legend,
            rows,
            columns: gathered.columns.len(),
            panels,
            steps: gathered.steps(),
            replicates: gathered.replicates(),
            fewest_replicates: gathered.fewest_replicates(),
        }
    }

    /// Bars per format: shares at step 0 and at the last step (one row),
    /// accuracy at step 0 within the sampled answers and, when measured,
    /// forced into the format (the next row), for each set.
    fn winner(gathered: &Gathered) -> Option<Figure> {
        let formats = gathered.formats();
        if formats.is_empty() {
            return None;
        }
        let mut legend = vec![
            LegendEntry {
                label: "share at step 0".to_string(),
                color: [158, 202, 225],
            },
            LegendEntry {
                label: "share at the last step".to_string(),
                color: [33, 113, 181],
            },
            LegendEntry {
                label: "accuracy within format at step 0".to_string(),
                color: [253, 141, 60],
            },
        ];
        if gathered.measures(FORCED_METRIC) {
            legend.push(LegendEntry {
                label: "greedy accuracy forced into format at step 0".to_string(),
                color: [166, 54, 3],
            });
        }
        let mut rows = Vec::new();
        let mut panels = Vec::new();
        for row in &gathered.rows {
            let mut share_panels = Vec::new();
            let mut accuracy_panels = Vec::new();
            let mut top_accuracy: f64 = 0.0;
            for column in &gathered.columns {
                let mut share_bars = Vec::new();
                let mut accuracy_bars = Vec::new();
                for (category, format) in formats.iter().enumerate() {
                    let shares = gathered.line(row, column, "format_share", format);
                    if let (Some(first), Some(last)) = (shares.first(), shares.last()) {
                        share_bars.push(Bar {
                            category,
                            legend: 0,
                            value: first.1,
                        });
                        share_bars.push(Bar {
                            category,
                            legend: 1,
                            value: last.1,
                        });
                    }
                    for (legend, metric) in [(2, "format_accuracy"), (3, FORCED_METRIC)] {
                        let accuracies = gathered.line(row, column, metric, format);
                        if let Some((0, spread)) = accuracies.first() {
                            top_accuracy = top_accuracy.max(spread.maximum);
                            accuracy_bars.push(Bar {
                                category,
                                legend,
                                value: *spread,
                            });
                        }
                    }
                }
                let title = gathered.panel_title(row, column);
                share_panels.push(Panel {
                    title: title.clone(),
                    series: Vec::new(),
                    categories: formats.clone(),
                    bars: share_bars,
                });
                accuracy_panels.push(Panel {
                    title,
                    series: Vec::new(),
                    categories: formats.clone(),
                    bars: accuracy_bars,
                });
            }
            let label = row_label(&gathered.rows, row);
            rows.push(FigureRow {
                label: format!("{label}: share"),
                y_label: "share of answers".to_string(),
                y_maximum: 1.0,
            });
            rows.push(FigureRow {
                label: format!("{label}: accuracy at step 0"),
                y_label: "accuracy at step 0".to_string(),
                y_maximum: nice_maximum(top_accuracy),
            });
            panels.extend(share_panels);
            panels.extend(accuracy_panels);
        }
        Some(Figure {
            chart: Chart::Winner,
            legend,
            rows,
            columns: gathered.columns.len(),
            panels,
            steps: gathered.steps(),
            replicates: gathered.replicates(),
            fewest_replicates: gathered.fewest_replicates(),
        })
    }

    /// The winner table: for each set and panel, the format with the largest
    /// final share, the most common and the most accurate at step 0.
    pub fn winners(metric_rows: &[MetricRow]) -> Vec<WinnerRow> {
        let summary = summary_rows(metric_rows);
        let at_start = |row: &SummaryRow| (row.first.0 == 0).then_some(row.first.1.mean);
        let at_end = |row: &SummaryRow| Some(row.last.unwrap_or(row.first).1.mean);
        let mut table = Vec::new();
        for panel in summary.chunk_by(|a, b| a.set == b.set && a.panel == b.panel) {
            // The format with the largest value (the first of equals).
            let best = |metric: &str, value_of: &dyn Fn(&SummaryRow) -> Option<f64>| {
                let mut best: Option<(String, f64)> = None;
                for row in panel.iter().filter(|row| row.metric == metric) {
                    let Some(value) = value_of(row) else {
                        continue;
                    };
                    if best.as_ref().is_none_or(|(_, best)| value > *best) {
                        best = Some((row.format.clone(), value));
                    }
                }
                best
            };
            if let (Some(winner), Some(most_common_at_start)) = (
                best("format_share", &at_end),
                best("format_share", &at_start),
            ) {
                table.push(WinnerRow {
                    set: panel[0].set.clone(),
                    panel: panel[0].panel.clone(),
                    winner,
                    most_common_at_start,
                    most_accurate_at_start: best("format_accuracy", &at_start),
                    most_accurate_when_forced: best(FORCED_METRIC, &at_start),
                });
            }
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn an_axis_with_nothing_above_zero_spans_zero_to_one() {
        assert_eq!(nice_maximum(0.0), 1.0);
        assert_eq!(nice_maximum(0.004), 0.01);
        assert_eq!(nice_maximum(0.3), 0.5);
        assert_eq!(nice_maximum(0.9), 1.0);
    }

    fn row(
        model: &str,
        point: &str,
        replicate: i64,
        step: u64,
        metric: &str,
        format: &str,
        value: f64,
    ) -> MetricRow {
        MetricRow::held_out(model, point, replicate, step, (metric, format), Some(value))
    }

    /// Two sweep points, two replicates, two steps; a pretrained base.
    fn rows() -> Vec<MetricRow> {
        let mut rows = vec![
            row("base", "", 0, 0, "format_share", "code", 0.5),
            row("base", "", 0, 0, "format_share", "prose", 0.5),
        ];
        for (point, last_prose) in [("kl=0", [0.9, 0.7]), ("kl=1", [0.6, 0.6])] {
            for replicate in 0..2 {
                rows.push(row(
                    "tuned",
                    point,
                    replicate,
                    0,
                    "format_share",
                    "code",
                    0.5,
                ));
                rows.push(row(
                    "tuned",
                    point,
                    replicate,
                    0,
                    "format_share",
                    "prose",
                    0.5,
                ));
                rows.push(row(
                    "tuned",
                    point,
                    replicate,
                    0,
                    "format_accuracy",
                    "code",
                    0.2,
                ));
                rows.push(row(
                    "tuned",
                    point,
                    replicate,
                    0,
                    "format_accuracy",
                    "prose",
                    0.1,
                ));
                rows.push(row("tuned", point, replicate, 0, "pass@1", "", 0.1));
                rows.push(row("tuned", point, replicate, 0, "maj@4", "", 0.05));
                rows.push(row("tuned", point, replicate, 0, "pass@4", "", 0.3));
                let prose = last_prose[replicate as usize];
                rows.push(row(
                    "tuned",
                    point,
                    replicate,
                    8,
                    "format_share",
                    "code",
                    1.0 - prose,
                ));
                rows.push(row(
                    "tuned",
                    point,
                    replicate,
                    8,
                    "format_share",
                    "prose",
                    prose,
                ));
            }
        }
        rows
    }

    #[test]
    fn share_panels_are_the_sweep_points_side_by_side_with_replicate_spread() {
        let figure = Figure::build(Chart::FormatShare, &rows()).unwrap();
        assert_eq!(figure.columns, 2, "the single-step base gets no column");
        assert_eq!(figure.rows.len(), 1);
        let titles: Vec<&str> = figure
            .panels
            .iter()
            .map(|panel| panel.title.as_str())
            .collect();
        assert_eq!(titles, ["tuned · kl=0", "tuned · kl=1"]);
        let labels: Vec<&str> = figure
            .legend
            .iter()
            .map(|entry| entry.label.as_str())
            .collect();
        assert_eq!(labels, ["code", "prose"]);
        let prose = &figure.panels[0].series[1];
        assert_eq!(prose.points[0].0, 0);
        let (step, last) = prose.points[1];
        assert_eq!(step, 8);
        assert!((last.mean - 0.8).abs() < 1e-12);
        assert_eq!((last.minimum, last.maximum, last.count), (0.7, 0.9, 2));
        assert_eq!(figure.steps, vec![0, 8]);
        assert_eq!(figure.replicates, 2);
        assert_eq!(figure.rows[0].y_maximum, 1.0);
    }

    #[test]
    fn a_panel_with_fewer_replicates_than_the_others_says_so_in_its_title() {
        // A partial report: the second replicate of `kl=1` is not evaluated yet.
        let partial: Vec<MetricRow> = rows()
            .into_iter()
            .filter(|row| !(row.point == "kl=1" && row.replicate == 1))
            .collect();
        for chart in [Chart::FormatShare, Chart::Winner] {
            let figure = Figure::build(chart, &partial).unwrap();
            assert_eq!((figure.fewest_replicates, figure.replicates), (1, 2));
            let titles: BTreeSet<&str> = figure
                .panels
                .iter()
                .map(|panel| panel.title.as_str())
                .collect();
            assert_eq!(
                titles,
                BTreeSet::from(["tuned · kl=0", "tuned · kl=1 (1 replicate)"]),
                "{chart:?}"
            );
        }
        let whole = Figure::build(Chart::FormatShare, &rows()).unwrap();
        assert_eq!((whole.fewest_replicates, whole.replicates), (2, 2));
        assert!(whole
            .panels
            .iter()
            .all(|panel| !panel.title.contains("replicate")));
    }

    #[test]
    fn an_accuracy_within_a_format_almost_no_answer_used_is_left_out() {
        let mut rows = rows();
        // Replicate 1 of `kl=0` wrote one answer in 200 in prose at step 0,
        // and it was right.
        for row in &mut rows {
            if (row.point.as_str(), row.replicate, row.step) == ("kl=0", 1, 0)
                && row.format == "prose"
            {
                row.value = Some(match row.metric.as_str() {
                    "format_share" => 0.005,
                    _ => 1.0,
                });
            }
        }
        // The first point of `label`'s line in the panel titled `title`.
        let first_point = |chart: Chart, title: &str, label: &str| -> (u64, ReplicateSpread) {
            let figure = Figure::build(chart, &rows).unwrap();
            let legend = figure
                .legend
                .iter()
                .position(|entry| entry.label == label)
                .unwrap();
            let panel = figure
                .panels
                .iter()
                .find(|panel| panel.title == title)
                .unwrap();
            let series = panel
                .series
                .iter()
                .find(|series| series.legend == legend)
                .unwrap();
            series.points[0]
        };
        let (step, spread) = first_point(Chart::FormatAccuracy, "tuned · kl=0", "prose");
        assert_eq!(step, 0);
        // Replicate 0's 0.1 alone, not the mean of 0.1 and 1.0.
        assert_eq!(
            (spread.mean, spread.minimum, spread.maximum),
            (0.1, 0.1, 0.1)
        );
        // The other panel, and the share itself, are untouched.
        let (_, other_panel) = first_point(Chart::FormatAccuracy, "tuned · kl=1", "prose");
        assert_eq!(other_panel.maximum, 0.1);
        let (_, share) = first_point(Chart::FormatShare, "tuned · kl=0", "prose");
        assert_eq!(share.minimum, 0.005);
    }

    #[test]
    fn accuracy_lines_are_pass_at_one_then_pass_at_k_then_majority() {
        let figure = Figure::build(Chart::Accuracy, &rows()).unwrap();
        let labels: Vec<&str> = figure
            .legend
            .iter()
            .map(|entry| entry.label.as_str())
            .collect();
        assert_eq!(labels, ["pass@1", "pass@4", "maj@4"]);
        assert_eq!(figure.rows[0].y_maximum, 0.5, "0.3 rounds up to 0.5");
    }

    #[test]
    fn the_winner_is_the_largest_final_share_and_the_start_is_described() {
        let winners = Figure::winners(&rows());
        assert_eq!(winners.len(), 2);
        assert_eq!(winners[0].panel, "tuned · kl=0");
        assert_eq!(winners[0].winner.0, "prose");
        assert!((winners[0].winner.1 - 0.8).abs() < 1e-12);
        // Tied at the start: the first format in order is named.
        assert_eq!(winners[0].most_common_at_start, ("code".to_string(), 0.5));
        assert_eq!(
            winners[0].most_accurate_at_start,
            Some(("code".to_string(), 0.2))
        );
        assert_eq!(winners[0].most_accurate_when_forced, None);
        let figure = Figure::build(Chart::Winner, &rows()).unwrap();
        assert_eq!(figure.legend.len(), 3, "no forced accuracy measured");
        assert_eq!(figure.rows.len(), 2);
        assert_eq!(figure.panels.len(), 4);
        assert_eq!(
            figure.panels[0].bars.len(),
            4,
            "two formats, two shares each"
        );
        assert_eq!(figure.panels[2].bars.len(), 2, "two accuracies");
        assert_eq!(figure.rows[1].y_maximum, 0.2);
    }

    #[test]
    fn the_forced_accuracy_at_step_0_is_a_fourth_bar_and_names_its_best_format() {
        let mut rows = rows();
        for (point, replicate, format, value) in [
            ("kl=0", 0, "code", 0.6),
            ("kl=0", 0, "prose", 0.7),
            ("kl=0", 1, "code", 0.8),
            ("kl=0", 1, "prose", 0.5),
        ] {
            rows.push(row(
                "tuned",
                point,
                replicate,
                0,
                "forced_pass@1",
                format,
                value,
            ));
        }
        let winners = Figure::winners(&rows);
        // Means: code 0.7, prose 0.6.
        let (format, value) = winners[0].most_accurate_when_forced.clone().unwrap();
        assert_eq!(format, "code");
        assert!((value - 0.7).abs() < 1e-12);
        assert_eq!(
            winners[1].most_accurate_when_forced, None,
            "not measured at kl=1"
        );
        let figure = Figure::build(Chart::Winner, &rows).unwrap();
        assert_eq!(figure.legend.len(), 4);
        let forced: Vec<&Bar> = figure.panels[2]
            .bars
            .iter()
            .filter(|bar| bar.legend == 3)
            .collect();
        assert_eq!(forced.len(), 2);
        assert!((forced[0].value.mean - 0.7).abs() < 1e-12);
        assert!((forced[0].value.minimum - 0.6).abs() < 1e-12);
        assert!((forced[0].value.maximum - 0.8).abs() < 1e-12);
        assert_eq!(figure.rows[1].y_maximum, 1.0, "0.8 rounds up to 1");
    }

    #[test]
    fn a_chart_without_its_metric_is_not_drawn() {
        let only_shares: Vec<MetricRow> = rows()
            .into_iter()
            .filter(|row| row.metric == "format_share")
            .collect();
        assert!(Figure::build(Chart::Accuracy, &only_shares).is_none());
        assert!(Figure::build(Chart::FormatAccuracy, &only_shares).is_none());
    }
}
