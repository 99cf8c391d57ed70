//! [`Checker`]: one expression against one [`Type`], to a normalised [`Value`].
//!
//! The checker never stops at an error: it records a diagnostic and returns
//! `None` for that value, so the caller can go on and report every problem.
//! Defaults are `.echo` text from the catalog, checked by the same code.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use super::catalog;
use super::describe::{backticked, expected, found, kinds_in_words, mismatch_hint};
use super::loader::lowercase_first;
use super::schema::{CallSchema, Default, FieldSchema, NameKind, Type};
use super::value::{MixtureTerm, StepCount, Value};
use crate::diagnostic::did_you_mean;
use crate::diagnostic::{Diagnostic, FileId, SourceMap, Span};
use crate::input_file::{self, DATA_FILE_LIMIT};
use crate::syntax::ast::{Argument, Call, Expression, ExpressionKind, Field, Identifier};
use crate::syntax::parse_value;

/// The file id that catalog defaults are parsed under.
pub(super) const DEFAULTS_FILE: FileId = FileId(u32::MAX);

/// A declared name: what it is and where.
#[derive(Debug, Clone, Copy)]
pub(super) struct Declared {
    pub kind: NameKind,
    pub span: Span,
}

/// Checks expressions against types, collecting diagnostics.
pub(super) struct Checker<'a> {
    /// Every declared name.
    pub names: &'a BTreeMap<String, Declared>,
    /// Names whose statements had syntax errors: references to them are not reported.
    pub broken: &'a BTreeSet<String>,
    /// The files, to resolve paths relative to the file that names them.
    pub sources: &'a SourceMap,
    /// The folder of the main file; file paths are stored relative to it.
    pub main_directory: PathBuf,
    /// The project's top folder, canonical: paths must stay under it.
    pub project_root: PathBuf,
    /// Whether the call being checked says `outside_project = true`.
    pub outside_project: bool,
    /// The experiment's seed, the default of every source's `seed`.
    pub seed: i64,
    /// What went wrong.
    pub diagnostics: Vec<Diagnostic>,
    /// Names referenced so far.
    pub used: BTreeSet<String>,
}

impl Checker<'_> {
    fn error(&mut self, span: Span, message: String) {
        self.diagnostics.push(Diagnostic::error(span, message));
    }

    fn error_with(&mut self, span: Span, message: String, hint: Option<String>) {
        self.diagnostics
            .push(Diagnostic::error(span, message).with_optional_hint(hint));
    }

    fn mismatch(&mut self, expression: &Expression, kind: &Type, field: &str) {
        self.error_with(
            expression.span,
            format!(
                "expected {} for `{field}`, found {}",
                expected(kind),
                found(expression)
            ),
            mismatch_hint(expression, kind, field),
        );
    }

    /// An unknown call or choice `name`: "did you mean" when one is close,
    /// and always the list of what `field` takes.
    fn unknown_call(
        &mut self,
        span: Span,
        message: String,
        name: &str,
        names: &[&str],
        field: &str,
    ) {
        let mut diagnostic = Diagnostic::error(span, message);
        diagnostic
            .hints
            .extend(did_you_mean(name, names.iter().copied()));
        diagnostic
            .hints
            .push(format!("`{field}` is one of {}", backticked(names)));
        self.diagnostics.push(diagnostic);
    }

    /// Checks `expression` as the value of `field`, of type `kind`.
    pub fn check(&mut self, expression: &Expression, kind: &Type, field: &str) -> Option<Value> {
        match kind {
            Type::Integer { minimum, maximum } => {
                self.integer(expression, *minimum, *maximum, field)
            }
            Type::Number {
                minimum,
                minimum_inclusive,
                maximum,
                maximum_inclusive,
            } => {
                let ExpressionKind::Quantity(quantity) = &expression.kind else {
                    self.mismatch(expression, kind, field);
                    return None;
                };
                let value = quantity.value;
                let below = value < *minimum || (!minimum_inclusive && value == *minimum);
                let over = value > *maximum || (!maximum_inclusive && value == *maximum);
                if below || over {
                    let bound = describe_interval(
                        *minimum,
                        *minimum_inclusive,
                        *maximum,
                        *maximum_inclusive,
                    );
                    self.error(
                        expression.span,
                        format!("`{field}` must be {bound}, found {}", quantity.text),
                    );
                    return None;
                }
                Some(Value::Number(value))
            }
            Type::Boolean => match single_name(expression) {
                Some("true") => Some(Value::Boolean(true)),
                Some("false") => Some(Value::Boolean(false)),
                _ => {
                    self.mismatch(expression, kind, field);
                    None
                }
            },
            Type::Text => match &expression.kind {
                ExpressionKind::String(text) => Some(Value::Text(text.clone())),
                _ => {
                    self.mismatch(expression, kind, field);
                    None
                }
            },
            Type::File | Type::Folder => match &expression.kind {
                ExpressionKind::String(text) => {
                    self.path(text, expression.span, *kind == Type::Folder)
                }
                _ => {
                    self.mismatch(expression, kind, field);
                    None
                }
            },
            Type::Choice(names) => match single_name(expression) {
                Some(name) if names.contains(&name) => Some(Value::Symbol(name.to_string())),
                Some(name) => {
                    let hint = did_you_mean(name, names.iter().copied())
                        .or_else(|| Some(format!("`{field}` is one of {}", backticked(names))));
                    self.error_with(
                        expression.span,
                        format!("unknown `{field}` value `{name}`"),
                        hint,
                    );
                    None
                }
                None => {
                    self.mismatch(expression, kind, field);
                    None
                }
            },
            Type::IntegerRange { minimum, maximum } => {
                let (low, high) = match &expression.kind {
                    ExpressionKind::Range(low, high) => (*low, *high),
                    ExpressionKind::Quantity(quantity)
                        if whole(quantity.value, quantity.percent) =>
                    {
                        (quantity.value as i64, quantity.value as i64)
                    }
                    _ => {
                        self.mismatch(expression, kind, field);
                        return None;
                    }
                };
                if low > high {
                    self.error_with(
                        expression.span,
                        format!("the range `{low}..{high}` of `{field}` is empty"),
                        Some("write the smaller number first".to_string()),
                    );
                    return None;
                }
                if low < *minimum || high > *maximum {
                    self.error(
                        expression.span,
                        format!(
                            "`{field}` must lie within {minimum}..{maximum}, found {low}..{high}"
                        ),
                    );
                    return None;
                }
                Some(Value::Range(low, high))
            }
            Type::Reference(kinds) => {
                let Some(name) = single_name(expression) else {
                    self.mismatch(expression, kind, field);
                    return None;
                };
                self.reference(name, expression.span, kinds, field)
                    .map(Value::Reference)
            }
            Type::Source => match &expression.kind {
                ExpressionKind::Call(call) => {
                    self.call(call, expression.span, catalog::SOURCES, field)
                }
                _ => match single_name(expression) {
                    Some(name) => self
                        .reference(name, expression.span, &[NameKind::Source], field)
                        .map(Value::Reference),
                    None => {
                        self.mismatch(expression, kind, field);
                        None
                    }
                },
            },
            Type::Mixture => self.mixture(expression, field),
            Type::Call(schemas) => match &expression.kind {
                ExpressionKind::Call(call) => self.call(call, expression.span, schemas, field),
                // A call without arguments may be written without parentheses.
                ExpressionKind::Path(names)
                    if names.len() == 1 && schemas.iter().any(|s| s.name == names[0].text) =>
                {
                    let call = Call {
                        name: names[0].clone(),
                        arguments: Vec::new(),
                    };
                    self.call(&call, expression.span, schemas, field)
                }
                _ => {
                    if let Some(name) = single_name(expression) {
                        let names: Vec<&str> = schemas.iter().map(|schema| schema.name).collect();
                        self.unknown_call(
                            expression.span,
                            format!("unknown {} `{name}`", call_noun(schemas)),
                            name,
                            &names,
                            field,
                        );
                        return None;
                    }
                    self.mismatch(expression, kind, field);
                    None
                }
            },
            Type::List(item) => {
                let ExpressionKind::List(items) = &expression.kind else {
                    self.mismatch(expression, kind, field);
                    return None;
                };
                if items.is_empty() {
                    self.error(
                        expression.span,
                        format!("`{field}` needs at least one element"),
                    );
                    return None;
                }
                let checked: Vec<Option<Value>> = items
                    .iter()
                    .map(|element| self.check(element, item, field))
                    .collect();
                checked
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
                    .map(Value::List)
            }
            Type::Pair(first, second) => match &expression.kind {
                ExpressionKind::Tuple(items) if items.len() == 2 => {
                    let a = self.check(&items[0], first, field);
                    let b = self.check(&items[1], second, field);
                    Some(Value::Tuple(vec![a?, b?]))
                }
                _ => {
                    self.mismatch(expression, kind, field);
                    None
                }
            },
            Type::Metric => self.metric(expression, field),
            Type::Steps => match &expression.kind {
                ExpressionKind::Quantity(quantity) if quantity.percent => {
                    if !(0.0..=1.0).contains(&quantity.value) {
                        self.error(
                            expression.span,
                            format!(
                                "`{field}` must be between 0% and 100%, found {}",
                                quantity.text
                            ),
                        );
                        return None;
                    }
                    Some(Value::Steps(StepCount::Fraction(quantity.value)))
                }
                ExpressionKind::Quantity(quantity)
                    if whole(quantity.value, false) && quantity.value >= 0.0 =>
                {
                    Some(Value::Steps(StepCount::Absolute(quantity.value as i64)))
                }
                _ => {
                    self.mismatch(expression, kind, field);
                    None
                }
            },
        }
    }

    fn integer(
        &mut self,
        expression: &Expression,
        minimum: i64,
        maximum: i64,
        field: &str,
    ) -> Option<Value> {
        let ExpressionKind::Quantity(quantity) = &expression.kind else {
            self.mismatch(expression, &Type::Integer { minimum, maximum }, field);
            return None;
        };
        if quantity.value.fract() == 0.0 && !quantity.percent && !whole(quantity.value, false) {
            self.error(
                expression.span,
                format!("the number `{}` is too large for `{field}`", quantity.text),
            );
            return None;
        }
        if !whole(quantity.value, quantity.percent) {
            self.error(
                expression.span,
                format!(
                    "expected a whole number for `{field}`, found `{}`",
                    quantity.text
                ),
            );
            return None;
        }
        let value = quantity.value as i64;
        if value < minimum || value > maximum {
            let bound = if maximum == i64::MAX {
                format!("at least {minimum}")
            } else {
                format!("between {minimum} and {maximum}")
            };
            self.error(
                expression.span,
                format!("`{field}` must be {bound}, found {}", quantity.text),
            );
            return None;
        }
        Some(Value::Integer(value))
    }

    /// Checks a path: a regular file (a folder when `folder`) that, after
    /// `..` and symbolic links, lies inside the project, unless the call
    /// says `outside_project = true`. Stored relative to the main file's
    /// folder, or by its absolute path when outside the project.
    fn path(&mut self, text: &str, span: Span, folder: bool) -> Option<Value> {
        let directory = self
            .sources
            .path(span.file)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let full = directory.join(text);
        // What the planner and the runtime will open.
        let lexical = relative_to(&self.main_directory, &full);
        let opened = self.main_directory.join(&lexical);
        let (resolved, inside) = self.resolve(&opened, text, span, folder)?;
        let stored = if !inside {
            resolved
        } else if lexical.is_absolute() {
            let main = if self.main_directory.as_os_str().is_empty() {
                Path::new(".")
            } else {
                &self.main_directory
            };
            match main.canonicalize() {
                Ok(main) => relative_to(&main, &resolved),
                Err(_) => lexical,
            }
        } else {
            lexical
        };
        let Some(stored) = stored.to_str() else {
            self.error(span, format!("the path `{text}` is not valid UTF-8"));
            return None;
        };
        Some(Value::Text(stored.replace('\\', "/")))
    }

    /// Resolves `opened` (shown as `shown`) and checks it: inside the
    /// project or opted out of it, a regular file within the size limit
    /// (a folder when `folder`). Returns the resolved path and whether it
    /// lies inside the project.
    fn resolve(
        &mut self,
        opened: &Path,
        shown: &str,
        span: Span,
        folder: bool,
    ) -> Option<(PathBuf, bool)> {
        let noun = if folder { "folder" } else { "file" };
        let resolved = match opened.canonicalize() {
            Ok(resolved) => resolved,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                self.error_with(
                    span,
                    format!("{noun} `{shown}` not found"),
                    Some(format!(
                        "paths are relative to the file that names them; looked for `{}`",
                        opened.display()
                    )),
                );
                return None;
            }
            Err(error) => {
                self.error(
                    span,
                    format!("cannot read `{shown}`: {}", lowercase(&error)),
                );
                return None;
            }
        };
        let inside = resolved.starts_with(&self.project_root);
        if !inside && !self.outside_project {
            self.error_with(
                span,
                format!("`{shown}` is outside the project"),
                Some(format!(
                    "the project is `{}`, and a path must stay inside it once `..` and symbolic links are resolved; to read this {noun} anyway, write `outside_project = true` in the call (the lockfile then records its absolute path)",
                    self.project_root.display()
                )),
            );
            return None;
        }
        let checked = std::fs::metadata(&resolved).and_then(|metadata| {
            if !folder {
                return input_file::check(&metadata, DATA_FILE_LIMIT);
            }
            if metadata.is_dir() {
                return Ok(());
            }
            Err(std::io::Error::other(format!(
                "it is {}, not a folder",
                input_file::kind_in_words(&metadata.file_type())
            )))
        });
        if let Err(error) = checked {
            self.error(
                span,
                format!("cannot read `{shown}`: {}", lowercase(&error)),
            );
            return None;
        }
        Some((resolved, inside))
    }

    /// Checks the `{split}.jsonl` file of a `gsm8k` folder as a data file:
    /// a link inside the folder must not lead out of the project either.
    fn gsm8k_file(&mut self, written: &[Field], arguments: &BTreeMap<String, Value>) -> Option<()> {
        let (Some(folder), Some(split)) = (
            arguments.get("path").and_then(Value::as_str),
            arguments.get("split").and_then(Value::as_str),
        ) else {
            return Some(());
        };
        let Some(field) = written.iter().find(|field| field.name.text == "path") else {
            return Some(());
        };
        let shown = match &field.value.kind {
            ExpressionKind::String(text) => format!("{}/{split}.jsonl", text.trim_end_matches('/')),
            _ => format!("{folder}/{split}.jsonl"),
        };
        let opened = self
            .main_directory
            .join(folder)
            .join(format!("{split}.jsonl"));
        self.resolve(&opened, &shown, field.value.span, false)
            .map(|_| ())
    }

    /// Resolves a name that must be of one of `kinds`.
    pub fn reference(
        &mut self,
        name: &str,
        span: Span,
        kinds: &[NameKind],
        field: &str,
    ) -> Option<String> {
        if self.broken.contains(name) {
            return None;
        }
        match self.names.get(name) {
            Some(declared) if kinds.contains(&declared.kind) => {
                self.used.insert(name.to_string());
                Some(name.to_string())
            }
            Some(declared) => {
                self.used.insert(name.to_string());
                let kind = declared.kind.keyword();
                self.error(
                    span,
                    format!(
                        "`{name}` is a {kind}, but `{field}` needs {}",
                        kinds_in_words(kinds)
                    ),
                );
                None
            }
            None => {
                let candidates: Vec<&str> = self
                    .names
                    .iter()
                    .filter(|(_, declared)| kinds.contains(&declared.kind))
                    .map(|(name, _)| name.as_str())
                    .collect();
                let noun = match kinds {
                    [one] => one.keyword(),
                    _ => "stage",
                };
                let hint = did_you_mean(name, candidates.iter().copied());
                self.error_with(span, format!("unknown {noun} `{name}`"), hint);
                None
            }
        }
    }

    fn mixture(&mut self, expression: &Expression, field: &str) -> Option<Value> {
        if let Some(name) = single_name(expression) {
            // A named mixture, or a single source used as a mixture of one.
            return match self.names.get(name).map(|declared| declared.kind) {
                Some(NameKind::Source) => {
                    self.used.insert(name.to_string());
                    Some(Value::Mixture(vec![MixtureTerm {
                        source: name.to_string(),
                        weight: 1.0,
                    }]))
                }
                _ => self
                    .reference(name, expression.span, &[NameKind::Mixture], field)
                    .map(Value::Reference),
            };
        }
        let terms: Vec<&Expression> = match &expression.kind {
            ExpressionKind::Sum(terms) => terms.iter().collect(),
            ExpressionKind::Product(..) => vec![expression],
            _ => {
                self.mismatch(expression, &Type::Mixture, field);
                return None;
            }
        };
        let mut checked = Vec::new();
        let mut ok = true;
        for term in terms {
            match self.mixture_term(term) {
                Some(term) => {
                    if checked
                        .iter()
                        .any(|existing: &MixtureTerm| existing.source == term.source)
                    {
                        self.error_with(
                            expression.span,
                            format!("source `{}` appears twice in the mixture", term.source),
                            Some("write it once with the sum of its weights".to_string()),
                        );
                        ok = false;
                    }
                    checked.push(term);
                }
                None => ok = false,
            }
        }
        ok.then_some(Value::Mixture(checked))
    }

    fn mixture_term(&mut self, term: &Expression) -> Option<MixtureTerm> {
        let (weight_expression, source_expression) = match &term.kind {
            ExpressionKind::Product(left, right) => match (&left.kind, &right.kind) {
                (ExpressionKind::Quantity(_), _) => (Some(left.as_ref()), right.as_ref()),
                (_, ExpressionKind::Quantity(_)) => (Some(right.as_ref()), left.as_ref()),
                _ => {
                    self.error_with(
                        term.span,
                        "a mixture term is a source with an optional weight".to_string(),
                        Some("write `4 * source`".to_string()),
                    );
                    return None;
                }
            },
            _ => (None, term),
        };
        let Some(name) = single_name(source_expression) else {
            self.error(
                source_expression.span,
                format!(
                    "expected the name of a source in the mixture, found {}",
                    found(source_expression)
                ),
            );
            return None;
        };
        let source = self.reference(name, source_expression.span, &[NameKind::Source], "mixture");
        let weight = match weight_expression {
            Some(expression) => {
                let ExpressionKind::Quantity(quantity) = &expression.kind else {
                    return None;
                };
                if quantity.value <= 0.0 {
                    self.error_with(
                        expression.span,
                        format!(
                            "mixture weight must be greater than 0, found {}",
                            quantity.text
                        ),
                        Some(
                            "leave a source out of the mixture instead of weighting it by zero"
                                .to_string(),
                        ),
                    );
                    return None;
                }
                quantity.value
            }
            None => 1.0,
        };
        Some(MixtureTerm {
            source: source?,
            weight,
        })
    }

    fn metric(&mut self, expression: &Expression, field: &str) -> Option<Value> {
        match &expression.kind {
            ExpressionKind::Metric(name, k) => {
                if !catalog::METRICS_AT_K.contains(&name.text.as_str()) {
                    let hint = did_you_mean(&name.text, catalog::METRICS_AT_K.iter().copied())
                        .or_else(|| {
                            Some(format!(
                                "metrics with `@k` are {}",
                                backticked(catalog::METRICS_AT_K)
                            ))
                        });
                    self.error_with(
                        name.span,
                        format!("unknown metric `{}@{k}`", name.text),
                        hint,
                    );
                    return None;
                }
                if *k < 1 {
                    self.error(
                        expression.span,
                        format!("`{}@{k}` needs k of at least 1", name.text),
                    );
                    return None;
                }
                if *k != 1 && catalog::METRICS_AT_ONE.contains(&name.text.as_str()) {
                    self.error_with(
                        expression.span,
                        format!("`{}@{k}` is greedy: its only k is 1", name.text),
                        Some(format!("write `{}@1`", name.text)),
                    );
                    return None;
                }
                Some(Value::Metric(name.text.clone(), *k))
            }
            _ => match single_name(expression) {
                Some(name) if catalog::PLAIN_METRICS.contains(&name) => {
                    Some(Value::Metric(name.to_string(), 0))
                }
                Some(name) => {
                    let all = catalog::PLAIN_METRICS.iter().copied().chain([
                        "pass@1",
                        "forced_pass@1",
                        "maj@8",
                    ]);
                    let hint = did_you_mean(name, all).or_else(|| {
                        if catalog::METRICS_AT_ONE.contains(&name) {
                            Some(format!("write `{name}@1`"))
                        } else {
                            catalog::METRICS_AT_K
                                .contains(&name)
                                .then(|| format!("write `{name}@k`, for example `{name}@8`"))
                        }
                    });
                    self.error_with(expression.span, format!("unknown metric `{name}`"), hint);
                    None
                }
                None => {
                    self.mismatch(expression, &Type::Metric, field);
                    None
                }
            },
        }
    }

    /// Checks a call against the schemas it may be one of; fills defaults.
    pub fn call(
        &mut self,
        call: &Call,
        span: Span,
        schemas: &[CallSchema],
        field: &str,
    ) -> Option<Value> {
        let Some(schema) = schemas.iter().find(|schema| schema.name == call.name.text) else {
            let names: Vec<&str> = schemas.iter().map(|schema| schema.name).collect();
            self.unknown_call(
                call.name.span,
                format!("unknown {} `{}`", call_noun(schemas), call.name.text),
                &call.name.text,
                &names,
                field,
            );
            return None;
        };
        let named = self.name_arguments(call, schema)?;
        let owner = format!("`{}`", schema.name);
        let allows_outside = named.iter().any(|field| {
            field.name.text == "outside_project" && single_name(&field.value) == Some("true")
        });
        let outer = std::mem::replace(&mut self.outside_project, allows_outside);
        let arguments = self.fields(&named, schema.fields, &owner, span, "argument");
        let arguments = arguments.and_then(|mut arguments| {
            self.derive_arguments(schema, &named, span, &mut arguments)?;
            Some(arguments)
        });
        self.outside_project = outer;
        Some(Value::Call(schema.name.to_string(), arguments?))
    }

    /// Fills the `Derived` arguments of a call and checks rules that tie its
    /// arguments together.
    fn derive_arguments(
        &mut self,
        schema: &CallSchema,
        written: &[Field],
        span: Span,
        arguments: &mut BTreeMap<String, Value>,
    ) -> Option<()> {
        let span_of = |name: &str| {
            written
                .iter()
                .find(|field| field.name.text == name)
                .map_or(span, |field| field.value.span)
        };
        if schema
            .field("seed")
            .is_some_and(|field| matches!(field.default, Default::Derived(_)))
        {
            arguments
                .entry("seed".to_string())
                .or_insert(Value::Integer(self.seed));
        }
        // `outside_project = false` is the default written out: the same key.
        if arguments.get("outside_project") == Some(&Value::Boolean(false)) {
            arguments.remove("outside_project");
        }
        if schema.name == "gsm8k" {
            self.gsm8k_file(written, arguments)?;
        }
        if schema.name == "gpt" {
            let preset = arguments
                .get("preset")
                .and_then(Value::as_str)
                .unwrap_or("small");
            let (layers, width, heads, context) = catalog::preset(preset)?;
            for (name, value) in [
                ("layers", layers),
                ("width", width),
                ("heads", heads),
                ("context", context),
            ] {
                arguments
                    .entry(name.to_string())
                    .or_insert(Value::Integer(value));
            }
            let width = arguments
                .get("width")
                .and_then(Value::as_integer)
                .unwrap_or(width);
            let heads = arguments
                .get("heads")
                .and_then(Value::as_integer)
                .unwrap_or(heads);
            if heads > 0 && width % heads != 0 {
                let divisors: Vec<String> = (1..=width.min(64))
                    .filter(|divisor| width % divisor == 0)
                    .map(|divisor| divisor.to_string())
                    .collect();
                self.error_with(
                    span_of("heads"),
                    format!("`heads` ({heads}) must divide `width` ({width})"),
                    Some(format!(
                        "width {width} splits evenly into {} heads",
                        divisors.join(", ")
                    )),
                );
                return None;
            }
        }
        Some(())
    }

    /// Gives every argument of a call its name (positional ones by order).
    fn name_arguments(&mut self, call: &Call, schema: &CallSchema) -> Option<Vec<Field>> {
        let mut named = Vec::new();
        let mut seen_named = false;
        let mut ok = true;
        for (index, Argument { name, value, span }) in call.arguments.iter().enumerate() {
            match name {
                Some(name) => {
                    seen_named = true;
                    named.push(Field {
                        name: name.clone(),
                        value: value.clone(),
                        span: *span,
                    });
                }
                None if seen_named => {
                    self.error(
                        *span,
                        format!("positional argument after a named one in `{}`", schema.name),
                    );
                    ok = false;
                }
                None if !schema.positional && !schema.fields.is_empty() => {
                    let names: Vec<&str> = schema.fields.iter().map(|field| field.name).collect();
                    self.error_with(
                        *span,
                        format!("arguments of `{}` must be named", schema.name),
                        Some(format!(
                            "write `name = value`; `{}` takes {}",
                            schema.name,
                            backticked(&names)
                        )),
                    );
                    ok = false;
                }
                None => match schema.fields.get(index) {
                    Some(field) => named.push(Field {
                        name: Identifier {
                            text: field.name.to_string(),
                            span: *span,
                        },
                        value: value.clone(),
                        span: *span,
                    }),
                    None => {
                        self.error(
                            *span,
                            format!(
                                "`{}` takes at most {} arguments, found {}",
                                schema.name,
                                schema.fields.len(),
                                call.arguments.len()
                            ),
                        );
                        ok = false;
                    }
                },
            }
        }
        ok.then_some(named)
    }

    /// Checks the fields of a block or the arguments of a call against their
    /// schemas and fills defaults. `Derived` fields are left for the caller.
    pub fn fields(
        &mut self,
        fields: &[Field],
        schemas: &[FieldSchema],
        owner: &str,
        owner_span: Span,
        noun: &str,
    ) -> Option<BTreeMap<String, Value>> {
        let mut values = BTreeMap::new();
        let mut ok = true;
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        for field in fields {
            let name = field.name.text.as_str();
            if seen.insert(name, field.name.span).is_some() {
                self.error(
                    field.name.span,
                    format!("{noun} `{name}` is set twice in {owner}"),
                );
                ok = false;
                continue;
            }
            let Some(schema) = schemas.iter().find(|schema| schema.name == name) else {
                let names: Vec<&str> = schemas.iter().map(|schema| schema.name).collect();
                let hint = did_you_mean(name, names.iter().copied()).or_else(|| {
                    (!names.is_empty()).then(|| format!("{owner} takes {}", backticked(&names)))
                });
                self.error_with(
                    field.name.span,
                    format!("unknown {noun} `{name}` in {owner}"),
                    hint,
                );
                ok = false;
                continue;
            };
            match self.check(&field.value, &schema.kind, name) {
                Some(value) => {
                    values.insert(name.to_string(), value);
                }
                None => ok = false,
            }
        }
        for schema in schemas {
            if values.contains_key(schema.name) || seen.contains_key(schema.name) {
                continue;
            }
            match schema.default {
                Default::Required => {
                    self.error(
                        owner_span,
                        format!("missing {noun} `{}` in {owner}", schema.name),
                    );
                    ok = false;
                }
                Default::Value(text) => match self.default(text, &schema.kind, schema.name) {
                    Some(value) => {
                        values.insert(schema.name.to_string(), value);
                    }
                    None => ok = false,
                },
                Default::Absent | Default::Derived(_) => {}
            }
        }
        ok.then_some(values)
    }

    /// Checks a catalog default.
    pub fn default(&mut self, text: &'static str, kind: &Type, field: &str) -> Option<Value> {
        let Some(expression) = parse_default(text, DEFAULTS_FILE) else {
            self.error(
                Span::new(DEFAULTS_FILE, 0, 0),
                format!("echolab's default `{text}` of `{field}` does not parse"),
            );
            return None;
        };
        self.check(&expression, kind, field)
    }
}

/// A catalog default parsed as if written in `file`, parsed once per thread:
/// every point of a sweep is checked, and parsing the same defaults again
/// for each one would take most of its time.
pub(super) fn parse_default(text: &'static str, file: FileId) -> Option<Expression> {
    thread_local! {
        static PARSED: RefCell<HashMap<(&'static str, FileId), Option<Expression>>> =
            RefCell::new(HashMap::new());
    }
    PARSED.with(|parsed| {
        parsed
            .borrow_mut()
            .entry((text, file))
            .or_insert_with(|| parse_value(text, file))
            .clone()
    })
}

/// The one name an expression is, if it is a bare name.
pub(super) fn single_name(expression: &Expression) -> Option<&str> {
    match &expression.kind {
        ExpressionKind::Path(names) if names.len() == 1 => Some(names[0].text.as_str()),
        _ => None,
    }
}

fn whole(value: f64, percent: bool) -> bool {
    !percent && value.fract() == 0.0 && value.abs() < 9.0e18
}

/// "greater than 0", "in (0, 1]", "at least 0".
fn describe_interval(
    minimum: f64,
    minimum_inclusive: bool,
    maximum: f64,
    maximum_inclusive: bool,
) -> String {
    let low = super::value::format_number(minimum);
    let low = low.trim_end_matches(".0");
    if maximum.is_infinite() {
        return if minimum_inclusive {
            format!("at least {low}")
        } else {
            format!("greater than {low}")
        };
    }
    let high = super::value::format_number(maximum);
    let high = high.trim_end_matches(".0");
    let open = if minimum_inclusive { "[" } else { "(" };
    let close = if maximum_inclusive { "]" } else { ")" };
    format!("in {open}{low}, {high}{close}")
}

/// What kind of thing a set of calls is, for "unknown X `name`".
fn call_noun(schemas: &[CallSchema]) -> &'static str {
    match schemas
        .first()
        .map(|schema| (schema.name, schema.positional))
    {
        Some(("synthetic", _)) => "source kind",
        Some(("gpt", _)) => "model kind",
        Some(("adamw", _)) => "optimizer",
        Some(("constant", false)) => "learning-rate schedule",
        Some(("constant", true)) => "KL schedule",
        Some(("ppo", _)) => "algorithm",
        Some(("log_steps", _)) => "evaluation schedule",
        _ => "function",
    }
}

/// `target` relative to `base`, lexically (no file system access).
fn relative_to(base: &Path, target: &Path) -> PathBuf {
    let base = normalise(base);
    let target = normalise(target);
    let base_parts: Vec<Component> = base.components().collect();
    let target_parts: Vec<Component> = target.components().collect();
    let common = base_parts
        .iter()
        .zip(&target_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut relative = PathBuf::new();
    for _ in common..base_parts.len() {
        relative.push("..");
    }
    for part in &target_parts[common..] {
        relative.push(part.as_os_str());
    }
    relative
}

/// Removes `.` and resolves `..` lexically.
fn normalise(path: &Path) -> PathBuf {
    let mut parts: Vec<Component> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if matches!(parts.last(), Some(Component::Normal(_))) => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.iter().collect()
}

/// An I/O error's message in a diagnostic's style (lowercase first letter).
fn lowercase(error: &std::io::Error) -> String {
    lowercase_first(&error.to_string())
}
