//! The font compiled into the binary: DejaVu Sans (Bitstream Vera licence,
//! `assets/fonts/DejaVuSans.LICENSE`). Charts are measured with it while
//! drawn and rasterised with it, never with the machine's fonts, so a PNG has
//! the same bytes wherever it is made.

use std::sync::OnceLock;

/// DejaVu Sans, regular.
pub(crate) const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family name the charts ask for (`font-family` in their SVG).
pub(crate) const FONT_FAMILY: &str = "sans-serif";

/// The font's own family name, which `resvg` maps `sans-serif` to.
pub(crate) const FONT_NAME: &str = "DejaVu Sans";

/// Registers the font with `plotters`' text measurement, once per process.
/// Returns whether the font is usable.
pub(crate) fn register_with_plotters() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, plotters::style::FontStyle::Normal, FONT_BYTES)
            .is_ok()
    })
}
