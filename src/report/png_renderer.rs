//! An SVG chart rasterised to PNG with `resvg`, at twice its size, with the
//! embedded font only: the machine's fonts are never loaded, so the PNG has
//! the same bytes wherever it is made.

use std::sync::{Arc, OnceLock};

use resvg::{tiny_skia, usvg};

use super::embedded_font::{FONT_BYTES, FONT_NAME};
use super::ReportError;

/// Pixels per SVG unit.
const SCALE: f32 = 2.0;

/// The font database holding only the embedded font, every generic family
/// mapped to it.
fn font_database() -> Arc<usvg::fontdb::Database> {
    static DATABASE: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    DATABASE
        .get_or_init(|| {
            let mut database = usvg::fontdb::Database::new();
            database.load_font_data(FONT_BYTES.to_vec());
            database.set_sans_serif_family(FONT_NAME);
            database.set_serif_family(FONT_NAME);
            database.set_monospace_family(FONT_NAME);
            database.set_cursive_family(FONT_NAME);
            database.set_fantasy_family(FONT_NAME);
            Arc::new(database)
        })
        .clone()
}

/// The PNG of chart `chart`'s SVG `svg`.
pub fn render_png(svg: &str, chart: &str) -> Result<Vec<u8>, ReportError> {
    let failed = |message: String| ReportError::Rasterising {
        chart: chart.to_string(),
        message,
    };
    let options = usvg::Options {
        font_family: FONT_NAME.to_string(),
        fontdb: font_database(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|error| failed(error.to_string()))?;
    let size = tree.size();
    let width = (size.width() * SCALE).ceil() as u32;
    let height = (size.height() * SCALE).ceil() as u32;
    let mut pixmap = tiny_skia::Pixmap::new(width, height)
        .ok_or_else(|| failed(format!("a {width}x{height} picture cannot be allocated")))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(SCALE, SCALE),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|error| failed(error.to_string()))
}
