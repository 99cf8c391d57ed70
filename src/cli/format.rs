//! `echolab fmt`: rewrite files in the canonical layout, or `--check` them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::diagnostic::{render_text, FileId, SourceMap};
use crate::syntax::{format, parse};

pub(super) fn run(files: &[PathBuf], check: bool) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for file in files {
        anyhow::ensure!(
            file.extension()
                .is_some_and(|extension| extension == "echo"),
            "`{}` is not an `.echo` file; `echolab fmt` formats `.echo` files only",
            file.display()
        );
        let text = crate::input_file::read_to_string(file, crate::input_file::ECHO_FILE_LIMIT)
            .with_context(|| format!("cannot read `{}`", file.display()))?;
        let parsed = parse(&text, FileId(0));
        if !parsed.diagnostics.is_empty() {
            let mut sources = SourceMap::new();
            sources.add(&file.to_string_lossy(), file, text);
            eprint!(
                "{}",
                render_text(&sources, &parsed.diagnostics, super::color_stderr())
            );
            eprintln!(
                "{}: not formatted: fix the syntax errors first",
                file.display()
            );
            failed = true;
            continue;
        }
        let formatted = format(&text, &parsed.file);
        if formatted == text {
            continue;
        }
        if check {
            eprintln!(
                "{}: not formatted (run `echolab fmt {}`)",
                file.display(),
                file.display()
            );
            failed = true;
        } else {
            std::fs::write(file, formatted)
                .with_context(|| format!("cannot write `{}`", file.display()))?;
            eprintln!("formatted {}", file.display());
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
