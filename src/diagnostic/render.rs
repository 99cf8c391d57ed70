//! Rendering diagnostics for people (text) and for tools (JSON lines).

use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, Config};

use super::{Diagnostic, Severity, SourceMap};

/// Renders diagnostics as text: `error: message`, the file:line:column, the
/// source line with the span underlined, and the hints. With `color`, ANSI
/// colours are used.
pub fn render_text(sources: &SourceMap, diagnostics: &[Diagnostic], color: bool) -> String {
    let mut files = SimpleFiles::new();
    for index in 0..sources.len() {
        let id = super::FileId(index as u32);
        files.add(sources.name(id).to_string(), sources.text(id).to_string());
    }
    let config = Config::default();
    let mut output = Vec::new();
    for diagnostic in diagnostics {
        let report = match diagnostic.severity {
            Severity::Error => Report::error(),
            Severity::Warning => Report::warning(),
        }
        .with_message(&diagnostic.message)
        .with_labels(vec![Label::primary(
            diagnostic.span.file.0 as usize,
            diagnostic.span.start..diagnostic.span.end,
        )])
        .with_notes(
            diagnostic
                .hints
                .iter()
                .map(|hint| format!("hint: {hint}"))
                .collect(),
        );
        let emitted = if color {
            let mut writer = term::termcolor::Ansi::new(&mut output);
            term::emit_to_write_style(&mut writer, &config, &files, &report)
        } else {
            let mut writer = term::termcolor::NoColor::new(&mut output);
            term::emit_to_write_style(&mut writer, &config, &files, &report)
        };
        if emitted.is_err() {
            // A span outside its file: fall back to the bare message.
            output.extend_from_slice(
                format!("{}: {}\n", diagnostic.severity.name(), diagnostic.message).as_bytes(),
            );
        }
    }
    String::from_utf8_lossy(&output).into_owned()
}

/// Renders diagnostics as JSON, one object per line, with 1-based positions:
/// `{"severity", "file", "line", "column", "end_line", "end_column",
/// "message", "hints"}`.
pub fn render_json(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut output = String::new();
    for diagnostic in diagnostics {
        let (line, column) = sources.line_column(diagnostic.span.file, diagnostic.span.start);
        let (end_line, end_column) = sources.line_column(diagnostic.span.file, diagnostic.span.end);
        let object = serde_json::json!({
            "severity": diagnostic.severity.name(),
            "file": sources.name(diagnostic.span.file),
            "line": line,
            "column": column,
            "end_line": end_line,
            "end_column": end_column,
            "message": diagnostic.message,
            "hints": diagnostic.hints,
        });
        output.push_str(&object.to_string());
        output.push('\n');
    }
    output
}
