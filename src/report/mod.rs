//! Reports: the charts and the page of an experiment's evaluations.
//!
//! Everything here is a pure function of metric rows: the report stage
//! (`runtime/stages/report.rs`) calls it to write its cached artifacts, and
//! `echolab report` / `echolab diff` (`cli/`) read them back. Nothing drawn
//! holds a time, a path or a random number, floats are printed with a fixed
//! number of digits, and text is measured and rasterised with a font compiled
//! into the binary (`assets/fonts/DejaVuSans.ttf`), so a chart's SVG and PNG
//! have the same bytes on every run and every machine of one platform.
//!
//! | file | owns |
//! |---|---|
//! | `metric_row.rs` | one measured value with its labels; `metrics.csv` written and read |
//! | `replicate_spread.rs` | mean, minimum and maximum over replicates |
//! | `step_axis.rs` | the log-scaled RL-step axis (`ln(step + 1)`) and its ticks |
//! | `gathered.rs` | the rows as a grid of panels, replicates kept apart, that charts and table read |
//! | `figure.rs` | what each chart shows: panels, series, bars, from the grid |
//! | `training_chart.rs` | the `training` chart: RL stages' own per-step metrics, smoothed |
//! | `svg_renderer.rs` | a figure drawn as SVG with `plotters` |
//! | `png_renderer.rs` | an SVG rasterised to PNG with `resvg` |
//! | `embedded_font.rs` | the font compiled into the binary |
//! | `summary_table.rs` | every quantity at the first and last step, over replicates |
//! | `html_page.rs` | the self-contained `report.html` |
//! | `run_table.rs` | the table of the run's stages that `echolab report` adds |
//! | `metrics_diff.rs` | two sets of rows compared value by value (`echolab diff`) |
//! | `report_error.rs` | [`ReportError`] |

mod embedded_font;
mod figure;
mod gathered;
mod html_page;
mod metric_row;
mod metrics_diff;
mod png_renderer;
mod replicate_spread;
mod report_error;
mod run_table;
mod step_axis;
mod summary_table;
mod svg_renderer;
mod training_chart;

pub use figure::{Bar, Chart, Figure, FigureRow, LegendEntry, Panel, Series, WinnerRow};
pub use html_page::{insert_run_table, render_page, EvaluationRow, PageContent, RUN_TABLE_MARKER};
pub use metric_row::{read_csv, write_csv, MetricRow, CSV_HEADER};
pub use metrics_diff::{DiffLine, DiffSummary, MetricsDiff};
pub use png_renderer::render_png;
pub use replicate_spread::ReplicateSpread;
pub use report_error::ReportError;
pub use run_table::{format_duration, RunTable, RunTableRow};
pub use step_axis::StepAxis;
pub use summary_table::{summary_rows, SummaryRow};
pub use svg_renderer::{figure_size, render_svg};
pub use training_chart::{training_rows, SMOOTHING_STEPS};
