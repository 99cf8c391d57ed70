//! The compiler: from `.echo` files to a checked experiment.
//!
//! [`compile_file`] reads the main file and every file it `use`s, parses
//! them ([`crate::syntax`]), declares every name, checks each definition and
//! stage against the [`catalog`] (types, ranges, required fields, defaults),
//! checks the rules that tie statements together (heads dividing width,
//! warmup within training, `pass@k` within the samples drawn, cycles between
//! stages), and expands sweeps into points. All diagnostics of one run are
//! returned together; the output is `None` when any is an error.
//!
//! The output, [`CheckedExperiment`], is independent of how the file was
//! written: it is what stage keys hash and what `fmt` must preserve.

mod analysis;
pub mod catalog;
mod checker;
mod describe;
mod experiment;
mod loader;
mod reference;
pub mod schema;
mod sweep;
mod value;

use std::path::{Path, PathBuf};

pub use experiment::{CheckedExperiment, Definition, Experiment, SweepPoint};
pub use reference::markdown as reference_markdown;
pub use schema::NameKind;
pub use value::{format_number, MixtureTerm, StepCount, Value};

use crate::diagnostic::{Diagnostic, SourceMap, Span};
use crate::syntax::ast::Statement;

/// Why a file could not be compiled at all (its problems are diagnostics).
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The main file could not be read (the reason follows as the error's
    /// source, so a chain prints it once).
    #[error("cannot read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file named is not an `.echo` file: it is refused before it is
    /// read, so that no diagnostic shows a line of another kind of file.
    #[error("`{path}` is not an `.echo` file; echolab reads experiments from `.echo` files only")]
    NotAnEchoFile {
        /// The file.
        path: PathBuf,
    },
}

/// The result of compiling one experiment file.
#[derive(Debug)]
pub struct Compilation {
    /// Every file read, for rendering diagnostics.
    pub sources: SourceMap,
    /// Errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// The checked experiment, when there was no error.
    pub experiment: Option<CheckedExperiment>,
}

impl Compilation {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads and compiles the experiment in `path` (a regular file of at most
/// [`ECHO_FILE_LIMIT`](crate::input_file::ECHO_FILE_LIMIT) bytes).
pub fn compile_file(path: &Path) -> Result<Compilation, CompileError> {
    if !loader::is_echo_file(path) {
        return Err(CompileError::NotAnEchoFile {
            path: path.to_path_buf(),
        });
    }
    let text = crate::input_file::read_to_string(path, crate::input_file::ECHO_FILE_LIMIT)
        .map_err(|source| CompileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(compile_text(&path.to_string_lossy(), path, text))
}

/// Compiles `text` as if read from `path` (shown as `name`); `use` paths
/// are resolved next to `path`. Every path the experiment names must stay
/// inside the project of `path`'s folder
/// ([`project_root`](crate::runtime::project_root)).
pub fn compile_text(name: &str, path: &Path, text: String) -> Compilation {
    let main_directory = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let project_root = crate::runtime::project_root(&main_directory);
    let mut sources = SourceMap::new();
    let file = sources.add(name, path, text);
    let mut diagnostics = Vec::new();
    let mut loader = loader::Loader {
        sources: &mut sources,
        stack: std::fs::canonicalize(path).into_iter().collect(),
        loaded: loader::Loaded::default(),
        diagnostics: &mut diagnostics,
        project_root: &project_root,
    };
    loader.load(file, true);
    let mut loaded = loader.loaded;
    let experiment = loaded.experiment.take();
    let checked = match &experiment {
        None => {
            if !loaded.syntax_errors {
                diagnostics.push(
                    Diagnostic::error(
                        Span::new(file, 0, 0),
                        format!("no `experiment` block in `{name}`"),
                    )
                    .with_hint("write the statements inside `experiment NAME { ... }`"),
                );
            }
            None
        }
        Some(experiment) => {
            let mut statements: Vec<Statement> = std::mem::take(&mut loaded.shared);
            statements.extend(experiment.statements.iter().cloned());
            let context = analysis::Context {
                sources: &sources,
                broken: &loaded.broken,
                main_directory,
                project_root,
                name: &experiment.name,
                warn_unused: true,
            };
            check(context, &statements, &mut diagnostics)
        }
    };
    diagnostics.sort_by(|a, b| {
        (a.span.file, a.span.start, a.severity).cmp(&(b.span.file, b.span.start, b.severity))
    });
    diagnostics.dedup();
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    Compilation {
        sources,
        diagnostics,
        experiment: if has_errors { None } else { checked },
    }
}

fn check(
    context: analysis::Context<'_>,
    statements: &[Statement],
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<CheckedExperiment> {
    let names = analysis::declare(statements, diagnostics);
    let base = analysis::analyse(statements, &names, &context, diagnostics);
    let sweeps: Vec<&crate::syntax::ast::Sweep> = statements
        .iter()
        .filter_map(|statement| match statement {
            Statement::Sweep(sweep) => Some(sweep),
            _ => None,
        })
        .collect();
    let axes = sweep::validate(statements, &sweeps, diagnostics);
    let base = base?;
    let axes = axes?;
    if sweeps.is_empty() {
        return Some(CheckedExperiment {
            points: vec![SweepPoint {
                assignments: Vec::new(),
                experiment: base.clone(),
            }],
            base,
        });
    }
    let quiet = analysis::Context {
        warn_unused: false,
        ..context
    };
    let points = sweep::expand(statements, &axes, &sweeps, &quiet, diagnostics)?;
    Some(CheckedExperiment { base, points })
}
