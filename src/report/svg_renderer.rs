//! A [`Figure`] drawn as SVG with `plotters`' SVG backend: a title and one
//! legend at the top, then the grid of panels, each row under its heading.
//! Coordinates are whole pixels and text is measured with the embedded
//! font, so the same figure gives the same bytes.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::embedded_font::{register_with_plotters, FONT_FAMILY};
use super::figure::{Figure, FigureRow, Panel};
use super::{ReportError, StepAxis};

/// The narrowest panel, in pixels.
const PANEL_WIDTH: u32 = 360;
/// The widest panel (a figure of one or two columns).
const WIDEST_PANEL: u32 = 560;
/// The width a figure of few columns grows to: about a laptop's page, so
/// a chart opened alone or on the report page fills it.
const TARGET_WIDTH: u32 = 1200;
/// Height of one panel.
const PANEL_HEIGHT: u32 = 270;
/// Height of the title and a legend of one line.
const HEADER_HEIGHT: u32 = 78;
/// Height of each further line of the legend.
const LEGEND_LINE_HEIGHT: u32 = 22;
/// Height of a row's heading.
const ROW_HEADING_HEIGHT: u32 = 26;
/// Space left and right of the grid.
const SIDE_MARGIN: u32 = 12;
/// The narrowest figure (room for the title and legend).
const MINIMUM_WIDTH: u32 = 560;

const TEXT: RGBColor = RGBColor(34, 34, 34);
const MUTED: RGBColor = RGBColor(102, 102, 102);
const GRID: RGBColor = RGBColor(232, 232, 232);
const AXIS: RGBColor = RGBColor(150, 150, 150);

/// A linear axis whose grid lines and labels are at given positions (the
/// step axis' ticks, the centres of bar categories).
#[derive(Debug, Clone)]
struct KeyedAxis {
    start: f64,
    end: f64,
    keys: Vec<f64>,
}

impl Ranged for KeyedAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let length = self.end - self.start;
        if length <= 0.0 {
            return (limit.0 + limit.1) / 2;
        }
        let fraction = (value - self.start) / length;
        limit.0 + (f64::from(limit.1 - limit.0) * fraction).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.keys.clone()
    }

    fn range(&self) -> Range<f64> {
        self.start..self.end
    }
}

impl ValueFormatter<f64> for KeyedAxis {
    fn format_ext(&self, value: &f64) -> String {
        format!("{value:.2}")
    }
}

/// Where everything of a figure goes: its size, the height of its title
/// and legend, and where each legend entry starts, `(x, line)`.
struct Layout {
    width: u32,
    panel_width: u32,
    height: u32,
    header_height: u32,
    legend: Vec<(i32, u32)>,
}

impl Layout {
    /// The layout of `figure`, its legend measured with the embedded font
    /// (a wide estimate per character if the font cannot be read, in which
    /// case nothing is drawn anyway).
    fn of(figure: &Figure) -> Layout {
        let columns = figure.columns.max(1) as u32;
        let panel_width =
            ((TARGET_WIDTH - 2 * SIDE_MARGIN) / columns).clamp(PANEL_WIDTH, WIDEST_PANEL);
        let width = (columns * panel_width + 2 * SIDE_MARGIN).max(MINIMUM_WIDTH);
        let measured = register_with_plotters();
        let font = (FONT_FAMILY, 13).into_font();
        let left = SIDE_MARGIN as i32;
        let right = width as i32 - SIDE_MARGIN as i32;
        let (mut x, mut line) = (left, 0);
        let mut legend = Vec::new();
        for entry in &figure.legend {
            let estimate = entry.label.chars().count() as u32 * 8;
            let text_width = if measured {
                font.box_size(&entry.label)
                    .map_or(estimate, |(width, _)| width)
            } else {
                estimate
            };
            let entry_width = 24 + text_width as i32;
            if x > left && x + entry_width > right {
                line += 1;
                x = left;
            }
            legend.push((x, line));
            x += entry_width + 22;
        }
        let header_height = HEADER_HEIGHT + line * LEGEND_LINE_HEIGHT;
        let height =
            header_height + figure.rows.len() as u32 * (ROW_HEADING_HEIGHT + PANEL_HEIGHT) + 8;
        Layout {
            width,
            panel_width,
            height,
            header_height,
            legend,
        }
    }
}

/// The figure's size in pixels: `(width, height)`.
pub fn figure_size(figure: &Figure) -> (u32, u32) {
    let layout = Layout::of(figure);
    (layout.width, layout.height)
}

/// Two segments closer than this share of the vertical axis are drawn
/// as one line would be: the later dashed.
const COINCIDENT_FRACTION: f64 = 0.004;
/// The dash of a line drawn on others, in pixels.
const DASH: u32 = 7;

/// A line of more points than this (a training curve, one point a step)
/// is drawn without a marker at each.
const MOST_MARKED_POINTS: usize = 24;

/// The SVG of `figure`.
pub fn render_svg(figure: &Figure) -> Result<String, ReportError> {
    let chart = figure.chart.name();
    let failed = |error: &dyn std::fmt::Display| ReportError::Drawing {
        chart: chart.to_string(),
        message: error.to_string(),
    };
    if !register_with_plotters() {
        return Err(failed(&"the embedded font cannot be read"));
    }
    let layout = Layout::of(figure);
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (layout.width, layout.height)).into_drawing_area();
        root.fill(&WHITE).map_err(|error| failed(&error))?;
        draw_header(&root, figure, &layout.legend).map_err(|error| failed(&error))?;
        for (row_index, row) in figure.rows.iter().enumerate() {
            let top = layout.header_height + row_index as u32 * (ROW_HEADING_HEIGHT + PANEL_HEIGHT);
            root.draw(&Text::new(
                row.label.clone(),
                (SIDE_MARGIN as i32, top as i32 + 6),
                text_style(14, TEXT, HPos::Left, VPos::Top),
            ))
            .map_err(|error| failed(&error))?;
            for column in 0..figure.columns {
                let Some(panel) = figure.panels.get(row_index * figure.columns + column) else {
                    continue;
                };
                let left = SIDE_MARGIN + column as u32 * layout.panel_width;
                let area = root.clone().shrink(
                    (left, top + ROW_HEADING_HEIGHT),
                    (layout.panel_width, PANEL_HEIGHT),
                );
                draw_panel(&area, figure, row, panel).map_err(|error| failed(&error))?;
            }
        }
        root.present().map_err(|error| failed(&error))?;
    }
    Ok(svg)
}

/// A text style of the embedded font.
fn text_style(size: u32, color: RGBColor, horizontal: HPos, vertical: VPos) -> TextStyle<'static> {
    let mut style = TextStyle::from((FONT_FAMILY, size).into_font());
    style.color = color.to_backend_color();
    style.pos(Pos::new(horizontal, vertical))
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Room left of a panel's width for its title (the chart's margins).
const TITLE_MARGINS: u32 = 28;

/// `title` as it fits on one line of `area` at 14 pixels: whole when it
/// fits, else cut with an ellipsis (a swept algorithm with all its
/// settings does not fit a panel; the full name is in `metrics.csv` and
/// the page's tables).
fn fitted_title(area: &DrawingArea<SVGBackend<'_>, Shift>, title: &str) -> String {
    let font = TextStyle::from((FONT_FAMILY, 14).into_font());
    let room = area.dim_in_pixel().0.saturating_sub(TITLE_MARGINS);
    let fits = |text: &str| {
        area.estimate_text_size(text, &font)
            .map_or(true, |(width, _)| width <= room)
    };
    if fits(title) {
        return title.to_string();
    }
    // The longest prefix (cut at a character boundary) that fits with "…".
    title
        .char_indices()
        .rev()
        .map(|(end, _)| format!("{}…", title[..end].trim_end()))
        .find(|cut| fits(cut))
        .unwrap_or_else(|| "…".to_string())
}

/// The title, what the lines mean, and the legend.
fn draw_header(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    figure: &Figure,
    legend_places: &[(i32, u32)],
) -> DrawResult {
    let left = SIDE_MARGIN as i32;
    root.draw(&Text::new(
        figure.chart.title().to_string(),
        (left, 10),
        text_style(18, TEXT, HPos::Left, VPos::Top),
    ))?;
    let note = match (figure.fewest_replicates, figure.replicates) {
        (_, 0 | 1) => "one replicate".to_string(),
        (fewest, most) if fewest < most => format!(
            "mean of {fewest} to {most} replicates (a panel with fewer says so in its title); band or whiskers: minimum to maximum"
        ),
        (_, count) => format!("mean of {count} replicates; band or whiskers: minimum to maximum"),
    };
    root.draw(&Text::new(
        note,
        (left, 34),
        text_style(12, MUTED, HPos::Left, VPos::Top),
    ))?;
    for (entry, &(x, line)) in figure.legend.iter().zip(legend_places) {
        let y = 60 + (line * LEGEND_LINE_HEIGHT) as i32;
        let color = RGBColor(entry.color[0], entry.color[1], entry.color[2]);
        root.draw(&Rectangle::new(
            [(x, y - 6), (x + 18, y + 6)],
            color.filled(),
        ))?;
        let style = text_style(13, TEXT, HPos::Left, VPos::Center);
        root.draw(&Text::new(entry.label.clone(), (x + 24, y), style))?;
    }
    Ok(())
}

/// Decimals that tell the vertical axis' labels apart.
fn y_decimals(y_maximum: f64) -> usize {
    if y_maximum <= 0.05 {
        3
    } else if y_maximum < 10.0 {
        2
    } else {
        0
    }
}

/// One panel: lines over the step axis, or bars per category.
fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    figure: &Figure,
    row: &FigureRow,
    panel: &Panel,
) -> DrawResult {
    let decimals = y_decimals(row.y_maximum);
    let y_formatter = move |value: &f64| format!("{value:.decimals$}");
    if panel.series.is_empty() && panel.bars.is_empty() {
        return draw_empty_panel(area, panel, row);
    }
    if !panel.categories.is_empty() {
        return draw_bar_panel(area, figure, row, panel, &y_formatter);
    }
    let axis = StepAxis::new(figure.steps.iter().copied());
    let (start, end) = axis.range();
    let tick_positions: Vec<f64> = axis.ticks().into_iter().map(StepAxis::position).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(
            fitted_title(area, &panel.title),
            (FONT_FAMILY, 14).into_font().color(&TEXT),
        )
        .margin(6)
        .margin_right(16)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(
            KeyedAxis {
                start,
                end,
                keys: tick_positions,
            },
            0.0..row.y_maximum,
        )?;
    chart
        .configure_mesh()
        .x_labels(32)
        .y_labels(6)
        .x_label_formatter(&|position| StepAxis::step_at(*position).to_string())
        .y_label_formatter(&y_formatter)
        .x_desc("RL step (log scale)")
        .y_desc(row.y_label.clone())
        .label_style((FONT_FAMILY, 12).into_font().color(&TEXT))
        .axis_desc_style((FONT_FAMILY, 12).into_font().color(&MUTED))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS)
        .draw()?;
    // The segments of each line already drawn: a segment of a later line
    // that lies on `n` of them (two formats both at 0) is dashed with gaps
    // `n` dashes long, so every colour shows.
    let mut drawn: Vec<Vec<[(f64, f64); 2]>> = Vec::new();
    let tolerance = row.y_maximum * COINCIDENT_FRACTION;
    let coincides = |segment: &[(f64, f64); 2], other: &[(f64, f64); 2]| {
        segment
            .iter()
            .zip(other)
            .all(|(a, b)| a.0 == b.0 && (a.1 - b.1).abs() <= tolerance)
    };
    for series in &panel.series {
        let Some(entry) = figure.legend.get(series.legend) else {
            continue;
        };
        let color = RGBColor(entry.color[0], entry.color[1], entry.color[2]);
        if series.points.iter().any(|(_, spread)| spread.has_spread()) {
            let upper = series
                .points
                .iter()
                .map(|(step, spread)| (StepAxis::position(*step), spread.maximum));
            let lower = series
                .points
                .iter()
                .rev()
                .map(|(step, spread)| (StepAxis::position(*step), spread.minimum));
            chart.draw_series(std::iter::once(Polygon::new(
                upper.chain(lower).collect::<Vec<_>>(),
                color.mix(0.18).filled(),
            )))?;
        }
        let points: Vec<(f64, f64)> = series
            .points
            .iter()
            .map(|(step, spread)| (StepAxis::position(*step), spread.mean))
            .collect();
        // Runs of segments lying on as many lines drawn before (0: solid).
        let mut run: Vec<(f64, f64)> = points.iter().take(1).copied().collect();
        let mut run_overlaps = 0;
        let mut runs: Vec<(Vec<(f64, f64)>, u32)> = Vec::new();
        for pair in points.windows(2) {
            let segment = [pair[0], pair[1]];
            let overlaps = drawn
                .iter()
                .filter(|line| line.iter().any(|other| coincides(&segment, other)))
                .count() as u32;
            if overlaps != run_overlaps && run.len() > 1 {
                let last = run[run.len() - 1];
                runs.push((std::mem::replace(&mut run, vec![last]), run_overlaps));
            }
            run_overlaps = overlaps;
            run.push(pair[1]);
        }
        runs.push((run, run_overlaps));
        for (run, overlaps) in runs {
            if overlaps == 0 {
                chart.draw_series(LineSeries::new(run, color.stroke_width(2)))?;
            } else {
                chart.draw_series(DashedLineSeries::new(
                    run,
                    DASH,
                    DASH * overlaps,
                    color.stroke_width(2),
                ))?;
            }
        }
        drawn.push(points.windows(2).map(|pair| [pair[0], pair[1]]).collect());
        if points.len() <= MOST_MARKED_POINTS {
            chart.draw_series(
                points
                    .into_iter()
                    .map(|point| Circle::new(point, 3, color.filled())),
            )?;
        }
    }
    Ok(())
}

/// Bars grouped by category, each labelled with its value.
fn draw_bar_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    figure: &Figure,
    row: &FigureRow,
    panel: &Panel,
    y_formatter: &dyn Fn(&f64) -> String,
) -> DrawResult {
    let categories = panel.categories.len();
    let centres: Vec<f64> = (0..categories).map(|index| index as f64 + 0.5).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(
            fitted_title(area, &panel.title),
            (FONT_FAMILY, 14).into_font().color(&TEXT),
        )
        .margin(6)
        .margin_right(16)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(
            KeyedAxis {
                start: 0.0,
                end: categories as f64,
                keys: centres,
            },
            // Headroom above the top grid line for the labels of full bars.
            0.0..row.y_maximum * 1.08,
        )?;
    let category_name = |position: &f64| {
        panel
            .categories
            .get(position.floor().max(0.0) as usize)
            .cloned()
            .unwrap_or_default()
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(categories.max(1))
        .y_labels(6)
        .x_label_formatter(&category_name)
        .y_label_formatter(y_formatter)
        .y_desc(row.y_label.clone())
        .label_style((FONT_FAMILY, 12).into_font().color(&TEXT))
        .axis_desc_style((FONT_FAMILY, 12).into_font().color(&MUTED))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS)
        .draw()?;
    for category in 0..categories {
        let bars: Vec<_> = panel
            .bars
            .iter()
            .filter(|bar| bar.category == category)
            .collect();
        if bars.is_empty() {
            // Say so, rather than leave a gap that reads as 0.
            chart.draw_series(std::iter::once(Text::new(
                "undefined".to_string(),
                (category as f64 + 0.5, 0.0),
                text_style(10, MUTED, HPos::Center, VPos::Bottom),
            )))?;
            continue;
        }
        let width = 0.76 / bars.len() as f64;
        for (index, bar) in bars.iter().enumerate() {
            let Some(entry) = figure.legend.get(bar.legend) else {
                continue;
            };
            let color = RGBColor(entry.color[0], entry.color[1], entry.color[2]);
            let left = category as f64 + 0.12 + index as f64 * width;
            let right = left + width * 0.9;
            let centre = (left + right) / 2.0;
            let top = bar.value.mean.min(row.y_maximum);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(left, 0.0), (right, top)],
                color.filled(),
            )))?;
            if bar.value.has_spread() {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(centre, bar.value.minimum), (centre, bar.value.maximum)],
                    TEXT.stroke_width(1),
                )))?;
            }
            // Above the whisker, where it cannot be crossed out.
            let label_height = top.max(bar.value.maximum.min(row.y_maximum));
            chart.draw_series(std::iter::once(Text::new(
                y_formatter(&bar.value.mean),
                (centre, label_height),
                text_style(10, TEXT, HPos::Center, VPos::Bottom),
            )))?;
        }
    }
    Ok(())
}

/// A panel with nothing to show says so, so an empty panel is never mistaken
/// for zeros.
fn draw_empty_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    panel: &Panel,
    row: &FigureRow,
) -> DrawResult {
    let (width, height) = area.dim_in_pixel();
    area.draw(&Text::new(
        fitted_title(area, &panel.title),
        (width as i32 / 2, 8),
        text_style(14, TEXT, HPos::Center, VPos::Top),
    ))?;
    area.draw(&Text::new(
        format!("no {} measured", row.y_label),
        (width as i32 / 2, height as i32 / 2),
        text_style(12, MUTED, HPos::Center, VPos::Center),
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_too_long_for_its_panel_is_cut_with_an_ellipsis_and_a_short_one_is_kept() {
        assert!(register_with_plotters());
        let mut svg = String::new();
        let area =
            SVGBackend::with_string(&mut svg, (PANEL_WIDTH, PANEL_HEIGHT)).into_drawing_area();
        let short = "tuned · kl=constant(0.001)";
        assert_eq!(fitted_title(&area, short), short);
        let long = "tuned · algorithm=ppo(clip = 0.2, epochs = 1, gae_lambda = 0.95, gamma = 1, value_clip = 0.2, value_coefficient = 0.5)";
        let fitted = fitted_title(&area, long);
        assert!(fitted.ends_with('…'), "{fitted}");
        assert!(long.starts_with(fitted.trim_end_matches('…')));
        assert!(fitted.starts_with("tuned · algorithm=ppo("), "{fitted}");
        let style = TextStyle::from((FONT_FAMILY, 14).into_font());
        let (width, _) = area.estimate_text_size(&fitted, &style).unwrap();
        assert!(width <= PANEL_WIDTH - TITLE_MARGINS, "{width}");
    }

    #[test]
    fn a_legend_wider_than_its_figure_wraps_and_the_figure_grows_by_a_line() {
        use crate::report::figure::{Chart, LegendEntry};
        assert!(register_with_plotters());
        let entry = |label: &str| LegendEntry {
            label: label.to_string(),
            color: [0, 0, 0],
        };
        let mut figure = Figure {
            chart: Chart::Winner,
            legend: vec![entry("share at step 0"), entry("share at the last step")],
            rows: vec![FigureRow {
                label: "held_out".to_string(),
                y_label: "share".to_string(),
                y_maximum: 1.0,
            }],
            columns: 1,
            panels: Vec::new(),
            steps: vec![0],
            replicates: 1,
            fewest_replicates: 1,
        };
        let (width, one_line) = figure_size(&figure);
        assert_eq!(width, WIDEST_PANEL + 2 * SIDE_MARGIN);
        assert!(Layout::of(&figure)
            .legend
            .iter()
            .all(|(_, line)| *line == 0));
        figure
            .legend
            .push(entry("accuracy within format at step 0"));
        figure
            .legend
            .push(entry("greedy accuracy forced into format at step 0"));
        let places = Layout::of(&figure).legend;
        assert_eq!(places[3], (SIDE_MARGIN as i32, 1), "{places:?}");
        assert_eq!(figure_size(&figure), (width, one_line + LEGEND_LINE_HEIGHT));
        let svg = render_svg(&figure).unwrap();
        assert!(svg.contains("greedy accuracy forced into format at step 0"));
    }

    /// A figure of one row and `columns` panels, each with these lines
    /// (`(legend, [(step, value)])`).
    fn lines_figure(columns: usize, lines: &[(usize, &[(u64, f64)])]) -> Figure {
        use crate::report::figure::{Chart, LegendEntry, Series};
        use crate::report::ReplicateSpread;
        let series: Vec<Series> = lines
            .iter()
            .map(|(legend, points)| Series {
                legend: *legend,
                points: points
                    .iter()
                    .map(|(step, value)| (*step, ReplicateSpread::of(&[*value]).unwrap()))
                    .collect(),
            })
            .collect();
        let colors = [[255, 0, 0], [0, 0, 255], [0, 128, 0]];
        Figure {
            chart: Chart::Accuracy,
            legend: colors
                .iter()
                .enumerate()
                .map(|(index, color)| LegendEntry {
                    label: format!("line {index}"),
                    color: *color,
                })
                .collect(),
            rows: vec![FigureRow {
                label: "held_out".to_string(),
                y_label: "accuracy".to_string(),
                y_maximum: 1.0,
            }],
            columns,
            panels: (0..columns)
                .map(|_| Panel {
                    title: "tuned".to_string(),
                    series: series.clone(),
                    categories: Vec::new(),
                    bars: Vec::new(),
                })
                .collect(),
            steps: vec![0, 1, 3],
            replicates: 1,
            fewest_replicates: 1,
        }
    }

    /// How many drawn elements have stroke `color`.
    fn strokes(svg: &str, color: &str) -> usize {
        svg.matches(&format!("stroke=\"{color}\"")).count()
    }

    #[test]
    fn a_line_lying_on_another_is_dashed_so_both_colours_show() {
        let zero: &[(u64, f64)] = &[(0, 0.0), (1, 0.0), (3, 0.0)];
        let apart: &[(u64, f64)] = &[(0, 0.5), (1, 0.6), (3, 0.7)];
        let separate = render_svg(&lines_figure(1, &[(0, zero), (1, apart)])).unwrap();
        let coinciding = render_svg(&lines_figure(1, &[(0, zero), (1, zero), (2, zero)])).unwrap();
        // Apart, each line is one path; on top of the first, the second
        // and the third are drawn as many dashes.
        assert_eq!(strokes(&separate, "#FF0000"), 1);
        assert_eq!(strokes(&separate, "#0000FF"), 1);
        assert_eq!(strokes(&coinciding, "#FF0000"), 1);
        let second = strokes(&coinciding, "#0000FF");
        let third = strokes(&coinciding, "#008000");
        assert!(second > 5, "{second} dashes");
        // The third's gaps are twice as long: fewer dashes, so the second
        // shows between them.
        assert!(third > 2 && third < second, "{third} against {second}");
    }

    #[test]
    fn few_columns_get_wide_panels_and_many_the_narrowest() {
        let line: &[(u64, f64)] = &[(0, 0.5), (3, 0.7)];
        let width = |columns| figure_size(&lines_figure(columns, &[(0, line)])).0;
        assert_eq!(width(1), WIDEST_PANEL + 2 * SIDE_MARGIN);
        assert_eq!(width(2), 2 * WIDEST_PANEL + 2 * SIDE_MARGIN);
        assert_eq!(
            width(3),
            3 * ((TARGET_WIDTH - 2 * SIDE_MARGIN) / 3) + 2 * SIDE_MARGIN
        );
        assert_eq!(width(5), 5 * PANEL_WIDTH + 2 * SIDE_MARGIN);
    }
}
