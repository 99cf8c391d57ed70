//! Diagnostics: what went wrong in a user's file, where, and how to fix it.
//!
//! Every stage of the compiler returns a list of [`Diagnostic`]s rather than
//! stopping at the first problem, so one run reports every error in a file.
//! Only the outermost layer renders them: as text with the source line
//! underlined (codespan-reporting) or as one JSON object per line for tools.

#[expect(
    clippy::module_inception,
    reason = "one concept per file, named after its type: `Diagnostic`"
)]
mod diagnostic;
mod render;
mod source_map;
mod span;
mod suggest;

pub use diagnostic::{Diagnostic, Severity};
pub use render::{render_json, render_text};
pub use source_map::{FileId, SourceMap};
pub use span::Span;
pub use suggest::{closest, did_you_mean};
