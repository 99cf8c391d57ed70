//! `echolab check`: every diagnostic of every file, exit 1 on errors.

use std::path::PathBuf;
use std::process::ExitCode;

use super::MessageFormat;
use crate::compiler::compile_file;
use crate::diagnostic::{render_json, render_text, Diagnostic};

pub(super) fn run(files: &[PathBuf], format: MessageFormat) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for file in files {
        let compilation = compile_file(file)?;
        failed |= compilation.has_errors();
        print_diagnostics(&compilation.sources, &compilation.diagnostics, format);
        if format == MessageFormat::Human && !compilation.has_errors() {
            if let Some(checked) = &compilation.experiment {
                eprintln!(
                    "{}: experiment `{}` is valid ({} sweep point{})",
                    file.display(),
                    checked.base.name,
                    checked.points.len(),
                    if checked.points.len() == 1 { "" } else { "s" }
                );
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints diagnostics: text on standard error, or JSON lines on standard output.
pub(super) fn print_diagnostics(
    sources: &crate::diagnostic::SourceMap,
    diagnostics: &[Diagnostic],
    format: MessageFormat,
) {
    match format {
        MessageFormat::Human => {
            if !diagnostics.is_empty() {
                eprint!(
                    "{}",
                    render_text(sources, diagnostics, super::color_stderr())
                );
                let errors = diagnostics.iter().filter(|d| d.is_error()).count();
                let warnings = diagnostics.len() - errors;
                eprintln!(
                    "{errors} error{}, {warnings} warning{}",
                    plural(errors),
                    plural(warnings)
                );
            }
        }
        MessageFormat::Json => print!("{}", render_json(sources, diagnostics)),
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}
