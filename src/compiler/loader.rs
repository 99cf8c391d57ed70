//! Reading the main file and, through `use`, the files it shares definitions with.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, FileId, SourceMap, Span};
use crate::syntax::ast::{Experiment, Item, Statement};
use crate::syntax::parse;

/// What loading a file and everything it uses produced.
#[derive(Default)]
pub(super) struct Loaded {
    /// The main file's `experiment` block, if it has one.
    pub experiment: Option<Experiment>,
    /// Statements outside any experiment (from used files and the main file), in load order.
    pub shared: Vec<Statement>,
    /// Names of statements dropped because of syntax errors.
    pub broken: BTreeSet<String>,
    /// Whether any file had a syntax error.
    pub syntax_errors: bool,
    /// Every `.echo` file read, canonical paths, to avoid reading one twice.
    read: BTreeSet<PathBuf>,
}

/// Parses `file` and, recursively, the files it uses.
pub(super) fn load(
    sources: &mut SourceMap,
    file: FileId,
    is_main: bool,
    stack: &mut Vec<PathBuf>,
    loaded: &mut Loaded,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let parsed = parse(sources.text(file), file);
    loaded.syntax_errors |= !parsed.diagnostics.is_empty();
    diagnostics.extend(parsed.diagnostics);
    loaded.broken.extend(parsed.broken_names);
    let directory = sources
        .path(file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let display_directory = Path::new(sources.name(file))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    for item in parsed.file.items {
        match item {
            Item::Use(use_item) => {
                let path = directory.join(&use_item.path);
                let name = display_directory
                    .join(&use_item.path)
                    .to_string_lossy()
                    .replace('\\', "/");
                use_file(
                    sources,
                    &path,
                    &name,
                    use_item.path_span,
                    stack,
                    loaded,
                    diagnostics,
                );
            }
            Item::Experiment(experiment) if is_main => {
                if let Some(first) = &loaded.experiment {
                    let line = sources.line_column(file, first.span.start).0;
                    diagnostics.push(
                        Diagnostic::error(
                            experiment.name.span,
                            format!("a second `experiment` block, `{}`", experiment.name.text),
                        )
                        .with_hint(format!(
                            "a file holds one experiment; `{}` starts on line {line}",
                            first.name.text
                        )),
                    );
                } else {
                    loaded.experiment = Some(experiment);
                }
            }
            Item::Experiment(experiment) => diagnostics.push(
                Diagnostic::error(
                    experiment.name.span,
                    format!(
                        "`{}` is an `experiment`, but this file is brought in with `use`",
                        experiment.name.text
                    ),
                )
                .with_hint(
                    "a used file shares definitions only; move them out of the `experiment` block",
                ),
            ),
            Item::Statement(Statement::Setting(field)) => diagnostics.push(
                Diagnostic::error(
                    field.name.span,
                    format!(
                        "setting `{}` outside an `experiment` block",
                        field.name.text
                    ),
                )
                .with_hint("settings such as `seed` belong inside `experiment NAME { ... }`"),
            ),
            Item::Statement(statement) => loaded.shared.push(statement),
        }
    }
}

fn use_file(
    sources: &mut SourceMap,
    path: &Path,
    name: &str,
    span: Span,
    stack: &mut Vec<PathBuf>,
    loaded: &mut Loaded,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let canonical = match std::fs::canonicalize(path) {
        Ok(canonical) => canonical,
        Err(error) => {
            diagnostics.push(
                Diagnostic::error(
                    span,
                    format!(
                        "cannot read `{name}`: {}",
                        lowercase_first(&error.to_string())
                    ),
                )
                .with_hint("paths in `use` are relative to the file that names them"),
            );
            return;
        }
    };
    if let Some(position) = stack.iter().position(|entry| entry == &canonical) {
        let cycle: Vec<String> = stack[position..]
            .iter()
            .chain(std::iter::once(&canonical))
            .map(|path| {
                path.file_name().map_or_else(
                    || path.display().to_string(),
                    |file| file.to_string_lossy().into_owned(),
                )
            })
            .collect();
        diagnostics.push(Diagnostic::error(
            span,
            format!("`use` cycle: {}", cycle.join(" -> ")),
        ));
        return;
    }
    if !loaded.read.insert(canonical.clone()) {
        return; // already brought in through another `use`
    }
    let text = match std::fs::read_to_string(&canonical) {
        Ok(text) => text,
        Err(error) => {
            diagnostics.push(Diagnostic::error(
                span,
                format!(
                    "cannot read `{name}`: {}",
                    lowercase_first(&error.to_string())
                ),
            ));
            return;
        }
    };
    let file = sources.add(name, path, text);
    stack.push(canonical);
    load(sources, file, false, stack, loaded, diagnostics);
    stack.pop();
}

/// Rust's I/O messages start with a capital; diagnostics are lowercase.
pub(super) fn lowercase_first(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_lowercase().chain(characters).collect(),
        None => String::new(),
    }
}
