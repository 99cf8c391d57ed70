//! [`ReportError`]: why a report could not be drawn or read.

/// Why a report could not be drawn, rasterised or read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A line of `metrics.csv` or `metrics.jsonl` does not have the expected shape.
    #[error("`{file}` line {line}: {message}")]
    Malformed {
        /// The file (its name, as the report knows it).
        file: String,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// `plotters` could not draw a chart.
    #[error("cannot draw chart `{chart}`: {message}")]
    Drawing {
        /// The chart.
        chart: String,
        /// `plotters`' message.
        message: String,
    },
    /// `resvg` could not read a chart's SVG or allocate its picture.
    #[error("cannot rasterise chart `{chart}`: {message}")]
    Rasterising {
        /// The chart.
        chart: String,
        /// What went wrong.
        message: String,
    },
    /// The cached page has no place for the run table.
    #[error("the report page has no run-table marker `{marker}`")]
    MissingMarker {
        /// The marker looked for.
        marker: &'static str,
    },
}
