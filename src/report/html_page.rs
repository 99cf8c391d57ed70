//! `report.html`: one self-contained page (inline CSS, inline SVG, no
//! script, nothing fetched), viewable offline.
//!
//! The report stage writes the page from what its key covers: the charts,
//! the winner table and the evaluations it read. The run table (every stage
//! of the plan, with durations) is not a pure function of those inputs, so
//! the cached page holds a marked place for it and `echolab report` fills
//! it in ([`insert_run_table`]) when it writes `reports/<experiment>/`.

use std::fmt::Write as _;

use super::figure::{Chart, WinnerRow};
use super::{ReplicateSpread, ReportError, SummaryRow};

/// Opens the place of the run table in a cached page.
pub const RUN_TABLE_MARKER: &str = "<!-- echolab:run-table -->";
/// Closes it.
const RUN_TABLE_END: &str = "<!-- /echolab:run-table -->";

/// One evaluation the report read.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationRow {
    /// The `eval` block.
    pub eval: String,
    /// The evaluated stage.
    pub model: String,
    /// Its sweep point (empty when shared).
    pub point: String,
    /// Its replicate.
    pub replicate: i64,
    /// The evaluation stage's key.
    pub key: String,
}

/// What a page shows.
#[derive(Debug, Clone, Default)]
pub struct PageContent {
    /// The experiment's name.
    pub experiment: String,
    /// Its `description`, if it has one.
    pub description: Option<String>,
    /// Each chart drawn and its SVG.
    pub charts: Vec<(Chart, String)>,
    /// The winner table, when the `winner` chart is drawn.
    pub winners: Vec<WinnerRow>,
    /// The numbers at the first and last step ([`super::summary_rows`]).
    pub summary: Vec<SummaryRow>,
    /// The evaluations read.
    pub evaluations: Vec<EvaluationRow>,
    /// Whether the page has a place for the run table (`run_table` chosen).
    pub run_table: bool,
    /// Evaluations the report names that were not in the cache: non-empty
    /// only for a partial report (`echolab report --partial`), never for a
    /// report stage.
    pub missing: Vec<String>,
}

const STYLE: &str = "body{font-family:'DejaVu Sans',sans-serif;color:#222;margin:24px auto;max-width:1260px;padding:0 16px;line-height:1.45}\
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 6px;border-bottom:1px solid #ddd;padding-bottom:4px}\
p.note{color:#555;font-size:14px;margin:4px 0 10px}figure{margin:8px 0 16px}figure svg{width:100%;height:auto;border:1px solid #eee}\
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#f4f4f4}td.number{text-align:right;font-variant-numeric:tabular-nums}code{font-size:12px}";

/// Text made safe for HTML.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// An SVG document as an element to place in HTML (without an XML prologue).
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(start) => svg[start..].trim_end(),
        None => svg.trim_end(),
    }
}

/// The page.
pub fn render_page(content: &PageContent) -> String {
    let mut page = String::new();
    let title = escape(&content.experiment);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}: echolab report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    if let Some(description) = &content.description {
        let _ = writeln!(page, "<p>{}</p>", escape(description));
    }
    if !content.missing.is_empty() {
        let _ = writeln!(
            page,
            "<p class=\"partial\" style=\"background:#fff4d6;border:1px solid #e0c060;padding:6px 10px\"><b>Partial report.</b> It reads the {read} evaluations in the cache; {count} of the stages it reads (evaluations, and RL stages for the training chart) are not there yet and are left out of every chart and table: {names}. Means and spreads cover only what was read.</p>",
            read = content.evaluations.len(),
            count = content.missing.len(),
            names = content
                .missing
                .iter()
                .map(|name| format!("<code>{}</code>", escape(name)))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    let _ = writeln!(
        page,
        "<p class=\"note\">Every value is in <a href=\"metrics.csv\">metrics.csv</a>. Each chart is also a file of its own (<code>NAME.svg</code>, <code>NAME.png</code>) beside this page.</p>"
    );
    for (chart, svg) in &content.charts {
        let _ = write!(
            page,
            "<h2 id=\"{name}\">{title}</h2>\n<p class=\"note\">{explanation}</p>\n<figure>\n{svg}\n</figure>\n",
            name = chart.name(),
            title = escape(chart.title()),
            explanation = escape(chart.explanation()),
            svg = inline_svg(svg),
        );
        if *chart == Chart::Winner && !content.winners.is_empty() {
            page.push_str(&winner_table(&content.winners));
        }
    }
    if !content.summary.is_empty() {
        page.push_str(&summary_table(&content.summary));
    }
    if content.run_table {
        page.push_str("<h2 id=\"run_table\">The run</h2>\n");
        page.push_str(&evaluation_table(&content.evaluations));
        let _ = write!(
            page,
            "{RUN_TABLE_MARKER}\n<p class=\"note\">The table of every stage of the run, with durations, is added by <code>echolab report</code>: durations vary from run to run, so they are no part of this cached page.</p>\n{RUN_TABLE_END}\n"
        );
    }
    page.push_str("</body>\n</html>\n");
    page
}

/// The table under the winner chart (with a column for the forced
/// accuracy when some panel measured it).
fn winner_table(winners: &[WinnerRow]) -> String {
    let forced = winners
        .iter()
        .any(|row| row.most_accurate_when_forced.is_some());
    let mut table = String::from(
        "<table class=\"winners\">\n<tr><th>set</th><th>stage</th><th>winner (share at the last step)</th><th>most common at step 0 (share)</th><th>most accurate at step 0 (accuracy)</th>",
    );
    if forced {
        table.push_str("<th>most accurate forced into it at step 0 (greedy accuracy)</th>");
    }
    table.push_str("</tr>\n");
    let format_and_value = |best: &Option<(String, f64)>| {
        best.as_ref().map_or_else(
            || "undefined".to_string(),
            |(format, value)| format!("{} ({value:.3})", escape(format)),
        )
    };
    for row in winners {
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{}</td><td><b>{}</b> ({:.3})</td><td>{} ({:.3})</td><td>{}</td>",
            escape(&row.set),
            escape(&row.panel),
            escape(&row.winner.0),
            row.winner.1,
            escape(&row.most_common_at_start.0),
            row.most_common_at_start.1,
            format_and_value(&row.most_accurate_at_start),
        );
        if forced {
            let _ = write!(
                table,
                "<td>{}</td>",
                format_and_value(&row.most_accurate_when_forced)
            );
        }
        table.push_str("</tr>\n");
    }
    table.push_str("</table>\n");
    table
}

/// A mean over replicates, with the minimum and maximum when they differ.
fn spread_cell(spread: &ReplicateSpread) -> String {
    if spread.has_spread() {
        format!(
            "{:.3} ({:.3}–{:.3})",
            spread.mean, spread.minimum, spread.maximum
        )
    } else {
        format!("{:.3}", spread.mean)
    }
}

/// The section of numbers at the first and last step.
fn summary_table(rows: &[SummaryRow]) -> String {
    let mut table = String::from(
        "<h2 id=\"summary\">The numbers at the first and last step</h2>\n<p class=\"note\">Each quantity of each panel above at its first and its last evaluated step: the mean over replicates, and in brackets the lowest and highest replicate when they differ. n is the number of replicates with a value at the last step.</p>\n<table class=\"summary\">\n<tr><th>set</th><th>stage</th><th>metric</th><th>format</th><th>step</th><th>first</th><th>step</th><th>last</th><th>n</th></tr>\n",
    );
    for row in rows {
        let (first_step, first) = &row.first;
        let (last_step, last, count) = match &row.last {
            Some((step, spread)) => (step.to_string(), spread_cell(spread), spread.count),
            None => (String::new(), String::new(), first.count),
        };
        let _ = writeln!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"number\">{first_step}</td><td class=\"number\">{}</td><td class=\"number\">{last_step}</td><td class=\"number\">{last}</td><td class=\"number\">{count}</td></tr>",
            escape(&row.set),
            escape(&row.panel),
            escape(&row.metric),
            escape(&row.format),
            spread_cell(first),
        );
    }
    table.push_str("</table>\n");
    table
}

/// The evaluations the report read, with their keys.
fn evaluation_table(evaluations: &[EvaluationRow]) -> String {
    let mut table = String::from(
        "<p class=\"note\">The evaluations this report read:</p>\n<table class=\"evaluations\">\n<tr><th>eval</th><th>stage</th><th>sweep point</th><th>replicate</th><th>key</th></tr>\n",
    );
    for row in evaluations {
        let _ = writeln!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"number\">{}</td><td><code title=\"{key}\">{short}</code></td></tr>",
            escape(&row.eval),
            escape(&row.model),
            escape(&row.point),
            row.replicate,
            key = escape(&row.key),
            short = escape(&row.key[..row.key.len().min(12)]),
        );
    }
    table.push_str("</table>\n");
    table
}

/// The cached page with its run-table place filled with `table` (HTML).
pub fn insert_run_table(page: &str, table: &str) -> Result<String, ReportError> {
    let start = page
        .find(RUN_TABLE_MARKER)
        .ok_or(ReportError::MissingMarker {
            marker: RUN_TABLE_MARKER,
        })?;
    let end = page[start..]
        .find(RUN_TABLE_END)
        .map(|offset| start + offset + RUN_TABLE_END.len())
        .ok_or(ReportError::MissingMarker {
            marker: RUN_TABLE_END,
        })?;
    Ok(format!("{}{}{}", &page[..start], table, &page[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_the_run_table_place_is_filled_once() {
        let page = render_page(&PageContent {
            experiment: "a<b & \"c\"".into(),
            description: Some("x > y".into()),
            run_table: true,
            ..PageContent::default()
        });
        assert!(page.contains("<h1>a&lt;b &amp; &quot;c&quot;</h1>"));
        assert!(page.contains("<p>x &gt; y</p>"));
        let filled = insert_run_table(&page, "<table id=\"stages\"></table>").unwrap();
        assert!(filled.contains("<table id=\"stages\"></table>"));
        assert!(!filled.contains(RUN_TABLE_MARKER));
        assert!(!filled.contains("are added by"));
        assert!(matches!(
            insert_run_table(&filled, "again"),
            Err(ReportError::MissingMarker { .. })
        ));
    }
}
