//! Reading the main file and, through `use`, the files it shares definitions with.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, FileId, SourceMap, Span};
use crate::input_file::{self, ECHO_FILE_LIMIT};
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

/// Reads the main file's `use`s, recursively.
pub(super) struct Loader<'a> {
    /// Every file read.
    pub sources: &'a mut SourceMap,
    /// The canonical paths of the files being loaded, outermost first, to
    /// find cycles.
    pub stack: Vec<PathBuf>,
    /// What has been loaded so far.
    pub loaded: Loaded,
    /// Where problems go.
    pub diagnostics: &'a mut Vec<Diagnostic>,
    /// The project's top folder, canonical: a used file must lie under it.
    pub project_root: &'a Path,
}

impl Loader<'_> {
    /// Parses `file` and, recursively, the files it uses.
    pub(super) fn load(&mut self, file: FileId, is_main: bool) {
        let parsed = parse(self.sources.text(file), file);
        self.loaded.syntax_errors |= !parsed.diagnostics.is_empty();
        self.diagnostics.extend(parsed.diagnostics);
        self.loaded.broken.extend(parsed.broken_names);
        let directory = self
            .sources
            .path(file)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let display_directory = Path::new(self.sources.name(file))
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
                    self.use_file(&path, &name, use_item.path_span);
                }
                Item::Experiment(experiment) if is_main => {
                    if let Some(first) = &self.loaded.experiment {
                        let line = self.sources.line_column(file, first.span.start).0;
                        self.diagnostics.push(
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
                        self.loaded.experiment = Some(experiment);
                    }
                }
                Item::Experiment(experiment) => self.diagnostics.push(
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
                Item::Statement(Statement::Setting(field)) => self.diagnostics.push(
                    Diagnostic::error(
                        field.name.span,
                        format!(
                            "setting `{}` outside an `experiment` block",
                            field.name.text
                        ),
                    )
                    .with_hint("settings such as `seed` belong inside `experiment NAME { ... }`"),
                ),
                Item::Statement(statement) => self.loaded.shared.push(statement),
            }
        }
    }

    /// Reads a used file: an `.echo` file inside the project, a regular
    /// file within [`ECHO_FILE_LIMIT`]. Anything else is refused before it
    /// is read, so a diagnostic never shows a line of a file that is not
    /// `.echo`.
    fn use_file(&mut self, path: &Path, name: &str, span: Span) {
        if !is_echo_file(path) {
            self.diagnostics.push(
                Diagnostic::error(span, format!("`{name}` is not an `.echo` file"))
                    .with_hint("`use` brings in definitions from other `.echo` files only"),
            );
            return;
        }
        let canonical = match std::fs::canonicalize(path) {
            Ok(canonical) => canonical,
            Err(error) => {
                self.diagnostics.push(
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
        if !canonical.starts_with(self.project_root) {
            self.diagnostics.push(
                Diagnostic::error(span, format!("`{name}` is outside the project"))
                    .with_hint(format!(
                        "the project is `{}`, and a used file must lie inside it once `..` and symbolic links are resolved; copy the file into the project",
                        self.project_root.display()
                    )),
            );
            return;
        }
        if !is_echo_file(&canonical) {
            self.diagnostics.push(
                Diagnostic::error(
                    span,
                    format!("`{name}` is a link to a file that is not an `.echo` file"),
                )
                .with_hint("`use` brings in definitions from other `.echo` files only"),
            );
            return;
        }
        if let Some(position) = self.stack.iter().position(|entry| entry == &canonical) {
            let cycle: Vec<String> = self.stack[position..]
                .iter()
                .chain(std::iter::once(&canonical))
                .map(|path| {
                    path.file_name().map_or_else(
                        || path.display().to_string(),
                        |file| file.to_string_lossy().into_owned(),
                    )
                })
                .collect();
            self.diagnostics.push(Diagnostic::error(
                span,
                format!("`use` cycle: {}", cycle.join(" -> ")),
            ));
            return;
        }
        if !self.loaded.read.insert(canonical.clone()) {
            return; // already brought in through another `use`
        }
        let text = match input_file::read_to_string(&canonical, ECHO_FILE_LIMIT) {
            Ok(text) => text,
            Err(error) => {
                self.diagnostics.push(Diagnostic::error(
                    span,
                    format!(
                        "cannot read `{name}`: {}",
                        lowercase_first(&error.to_string())
                    ),
                ));
                return;
            }
        };
        let file = self.sources.add(name, path, text);
        self.stack.push(canonical);
        self.load(file, false);
        self.stack.pop();
    }
}

/// Whether `path` names an `.echo` file.
pub(crate) fn is_echo_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension == "echo")
}

/// Rust's I/O messages start with a capital; diagnostics are lowercase.
pub(super) fn lowercase_first(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_lowercase().chain(characters).collect(),
        None => String::new(),
    }
}
