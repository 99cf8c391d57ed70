//! [`RunTable`]: every stage of a run (name, kind, key, the files it read
//! with their digests, whether it is cached, how long it took), drawn as
//! HTML by `echolab report`. It is a presentation-time addition: durations
//! vary between runs, so they never enter a cached artifact.

use std::fmt::Write as _;

use super::html_page::escape;

/// One stage of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunTableRow {
    /// The stage's name in the plan.
    pub name: String,
    /// Its kind (`pretrain`, `rl`, ...).
    pub kind: String,
    /// Its key.
    pub key: String,
    /// The files it reads and their digests (`path`, `blake3`).
    pub inputs: Vec<(String, String)>,
    /// Whether its entry is in the cache.
    pub cached: bool,
    /// How long it took to compute, when recorded.
    pub seconds: Option<f64>,
}

/// The stages of a run, and where the run was made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunTable {
    /// `(what, value)`: echolab's version, the commit, the platform.
    pub provenance: Vec<(String, String)>,
    /// Every stage, upstream first.
    pub rows: Vec<RunTableRow>,
}

/// `12.3 s`, `4 min 05 s`, `1 h 02 min`.
pub fn format_duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else if seconds < 3600.0 {
        let whole = seconds.round() as u64;
        format!("{} min {:02} s", whole / 60, whole % 60)
    } else {
        let minutes = (seconds / 60.0).round() as u64;
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    }
}

impl RunTable {
    /// The table as HTML, with a line of totals.
    pub fn to_html(&self) -> String {
        let mut html = String::new();
        if !self.provenance.is_empty() {
            html.push_str("<p class=\"note\">");
            let parts: Vec<String> = self
                .provenance
                .iter()
                .map(|(what, value)| format!("{}: <code>{}</code>", escape(what), escape(value)))
                .collect();
            html.push_str(&parts.join(" · "));
            html.push_str("</p>\n");
        }
        html.push_str("<table class=\"stages\">\n<tr><th>stage</th><th>kind</th><th>key</th><th>input files (blake3)</th><th>cached</th><th>duration</th></tr>\n");
        let mut total = 0.0;
        let mut recorded = 0;
        for row in &self.rows {
            let inputs = if row.inputs.is_empty() {
                "—".to_string()
            } else {
                row.inputs
                    .iter()
                    .map(|(path, digest)| {
                        format!(
                            "<code>{}</code> <code title=\"{}\">{}</code>",
                            escape(path),
                            escape(digest),
                            escape(&digest[..digest.len().min(12)])
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            let duration = row.seconds.map_or_else(
                || "not recorded".to_string(),
                |seconds| {
                    total += seconds;
                    recorded += 1;
                    format_duration(seconds)
                },
            );
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td><code title=\"{key}\">{short}</code></td><td>{inputs}</td><td>{}</td><td class=\"number\">{duration}</td></tr>",
                escape(&row.name),
                escape(&row.kind),
                if row.cached { "yes" } else { "no" },
                key = escape(&row.key),
                short = escape(&row.key[..row.key.len().min(12)]),
            );
        }
        html.push_str("</table>\n");
        let _ = writeln!(
            html,
            "<p class=\"note\">{} stages; {recorded} with a recorded duration, {} of compute in all. A duration is recorded when a stage is computed (<code>.echolab/logs/&lt;experiment&gt;/*.timing.json</code>); stages computed before echolab recorded durations show none.</p>",
            self.rows.len(),
            format_duration(total),
        );
        html
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(4.25), "4.2 s");
        assert_eq!(format_duration(245.0), "4 min 05 s");
        assert_eq!(format_duration(3720.0), "1 h 02 min");
    }

    #[test]
    fn the_table_lists_every_stage_and_totals_recorded_durations() {
        let table = RunTable {
            provenance: vec![("platform".into(), "x86_64-linux".into())],
            rows: vec![
                RunTableRow {
                    name: "tuned[kl=constant(0)]".into(),
                    kind: "rl".into(),
                    key: "ab".repeat(32),
                    inputs: vec![("data/x.jsonl".into(), "cd".repeat(32))],
                    cached: true,
                    seconds: Some(90.0),
                },
                RunTableRow {
                    name: "summary".into(),
                    kind: "report".into(),
                    key: "ef".repeat(32),
                    inputs: Vec::new(),
                    cached: false,
                    seconds: None,
                },
            ],
        };
        let html = table.to_html();
        assert!(html.contains("<td>tuned[kl=constant(0)]</td><td>rl</td>"));
        assert!(html.contains(&format!(
            "title=\"{}\">{}</code>",
            "cd".repeat(32),
            "cd".repeat(6)
        )));
        assert!(html.contains("1 min 30 s"));
        assert!(html.contains("not recorded"));
        assert!(html.contains("2 stages; 1 with a recorded duration"));
    }
}
