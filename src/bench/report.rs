//! [`Bench`]: the table a benchmark run fills and prints.

use std::fmt::Write as _;

/// One measured figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The group the row belongs to (`language`, `data`, `training`, ...).
    pub group: String,
    /// What was measured.
    pub name: String,
    /// The figure.
    pub value: f64,
    /// Its unit (`ms`, `tokens/s`, `GiB/s`, ...).
    pub unit: String,
    /// The target or the comparison it is read against, if any.
    pub note: String,
}

/// The rows of one `echolab bench` run.
#[derive(Debug, Default)]
pub struct Bench {
    rows: Vec<Row>,
    group: String,
}

impl Bench {
    /// An empty table.
    pub fn new() -> Self {
        Bench::default()
    }

    /// Sets the group that the next rows belong to.
    pub fn start_group(&mut self, group: &str) {
        self.group = group.to_string();
    }

    /// Records a figure; `note` says what it is compared with.
    pub fn record(&mut self, name: &str, value: f64, unit: &str, note: &str) {
        let row = Row {
            group: self.group.clone(),
            name: name.to_string(),
            value,
            unit: unit.to_string(),
            note: note.to_string(),
        };
        eprintln!(
            "  {:<10} {:<48} {:>12} {:<10} {}",
            row.group,
            row.name,
            format_value(row.value),
            row.unit,
            row.note
        );
        self.rows.push(row);
    }

    /// Every row recorded so far.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The table as aligned text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<10} {:<48} {:>12} {:<10} note",
            "group", "measurement", "value", "unit"
        );
        for row in &self.rows {
            let _ = writeln!(
                out,
                "{:<10} {:<48} {:>12} {:<10} {}",
                row.group,
                row.name,
                format_value(row.value),
                row.unit,
                row.note
            );
        }
        out
    }
}

fn format_value(value: f64) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.4}")
    }
}
