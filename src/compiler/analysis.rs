//! Checking a whole experiment: names, every definition and stage, and the
//! rules that tie fields of different statements together.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::catalog;
use super::checker::{single_name, Checker, Declared};
use super::experiment::{Definition, Experiment};
use super::schema::{NameKind, Type};
use super::value::{StepCount, Value};
use crate::diagnostic::{Diagnostic, SourceMap, Span};
use crate::syntax::ast::{
    self, DefinitionKind, Expression, ExpressionKind, Field, Stage, StageKind, Statement,
};

/// Everything the analysis needs besides the statements.
pub(super) struct Context<'a> {
    /// The files read.
    pub sources: &'a SourceMap,
    /// Names whose statements had syntax errors.
    pub broken: &'a BTreeSet<String>,
    /// The folder of the main file.
    pub main_directory: PathBuf,
    /// The project's top folder, canonical.
    pub project_root: PathBuf,
    /// The experiment's name and its span.
    pub name: &'a ast::Identifier,
    /// Whether to report unused definitions.
    pub warn_unused: bool,
}

/// The name a stage is known by: its own, or its keyword when unnamed.
pub(super) fn stage_name(stage: &Stage) -> (&str, Span) {
    match &stage.name {
        Some(name) => (name.text.as_str(), name.span),
        None => (stage.kind.keyword(), stage.keyword_span),
    }
}

/// Collects every declared name; reports duplicates.
pub(super) fn declare(
    statements: &[Statement],
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Declared> {
    let mut names: BTreeMap<String, Declared> = BTreeMap::new();
    for statement in statements {
        let (name, span, kind) = match statement {
            Statement::Definition(definition) => (
                definition.name.text.as_str(),
                definition.name.span,
                match definition.kind {
                    DefinitionKind::Source => NameKind::Source,
                    DefinitionKind::Mixture => NameKind::Mixture,
                    DefinitionKind::Model => NameKind::Model,
                },
            ),
            Statement::Stage(stage) => {
                let (name, span) = stage_name(stage);
                let kind = match stage.kind {
                    StageKind::Pretrain => NameKind::Pretrain,
                    StageKind::Rl => NameKind::Rl,
                    StageKind::Eval => NameKind::Eval,
                    StageKind::Report => NameKind::Report,
                };
                (name, span, kind)
            }
            _ => continue,
        };
        if let Some(first) = names.get(name) {
            let message = if first.kind == kind
                && matches!(kind, NameKind::Eval | NameKind::Report)
                && name == kind.keyword()
            {
                format!("a second unnamed `{name}` block")
            } else {
                format!("`{name}` is defined twice")
            };
            let hint = if name == kind.keyword() {
                format!("give each `{name}` block its own name: `{name} NAME {{ ... }}`")
            } else {
                "each name can be defined once; rename one of them".to_string()
            };
            diagnostics.push(Diagnostic::error(span, message).with_hint(hint));
            continue;
        }
        names.insert(name.to_string(), Declared { kind, span });
    }
    names
}

/// Checks every statement; returns the experiment if there was no error.
pub(super) fn analyse(
    statements: &[Statement],
    names: &BTreeMap<String, Declared>,
    context: &Context<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Experiment> {
    let settings: Vec<Field> = statements
        .iter()
        .filter_map(|statement| match statement {
            Statement::Setting(field) => Some(field.clone()),
            _ => None,
        })
        .collect();
    let mut checker = Checker {
        names,
        broken: context.broken,
        sources: context.sources,
        main_directory: context.main_directory.clone(),
        project_root: context.project_root.clone(),
        outside_project: false,
        seed: 0,
        diagnostics: Vec::new(),
        used: BTreeSet::new(),
    };
    let owner = format!("`experiment {}`", context.name.text);
    let settings = checker.fields(
        &settings,
        catalog::EXPERIMENT_SETTINGS,
        &owner,
        context.name.span,
        "setting",
    );
    let seed = settings
        .as_ref()
        .and_then(|s| s.get("seed"))
        .and_then(Value::as_integer)
        .unwrap_or(0);
    checker.seed = seed;

    let mut definitions: BTreeMap<String, Definition> = BTreeMap::new();
    let mut failed = settings.is_none();
    // Definitions first: stages read their checked values.
    for statement in statements {
        let Statement::Definition(definition) = statement else {
            continue;
        };
        if names
            .get(&definition.name.text)
            .is_none_or(|declared| declared.span != definition.name.span)
        {
            continue; // a duplicate, already reported
        }
        let (kind, value) = match definition.kind {
            DefinitionKind::Source => (
                NameKind::Source,
                checker.check(
                    &definition.value,
                    &Type::Call(catalog::SOURCES),
                    &definition.name.text,
                ),
            ),
            DefinitionKind::Model => (
                NameKind::Model,
                checker.check(
                    &definition.value,
                    &Type::Call(catalog::MODELS),
                    &definition.name.text,
                ),
            ),
            DefinitionKind::Mixture => {
                let value = checker.check(&definition.value, &Type::Mixture, &definition.name.text);
                let value = match value {
                    Some(Value::Reference(other)) => {
                        checker.diagnostics.push(
                            Diagnostic::error(
                                definition.value.span,
                                format!(
                                    "mixture `{}` is only another name for `{other}`",
                                    definition.name.text
                                ),
                            )
                            .with_hint("a mixture is built from sources: `a + 4 * b`"),
                        );
                        None
                    }
                    other => other,
                };
                (NameKind::Mixture, value)
            }
        };
        match value {
            Some(value) => {
                definitions.insert(definition.name.text.clone(), Definition { kind, value });
            }
            None => failed = true,
        }
    }
    let stages: Vec<&Stage> = statements
        .iter()
        .filter_map(|statement| match statement {
            Statement::Stage(stage) => Some(stage),
            _ => None,
        })
        .filter(|stage| {
            let (name, span) = stage_name(stage);
            names
                .get(name)
                .is_some_and(|declared| declared.span == span)
        })
        .collect();
    // Pretraining before RL, RL before evaluation, evaluation before reports.
    for kind in [
        StageKind::Pretrain,
        StageKind::Rl,
        StageKind::Eval,
        StageKind::Report,
    ] {
        for stage in stages.iter().filter(|stage| stage.kind == kind) {
            match check_stage(stage, &mut checker, &definitions, names) {
                Some(definition) => {
                    definitions.insert(stage_name(stage).0.to_string(), definition);
                }
                None => failed = true,
            }
        }
    }
    check_rl_cycles(&stages, &mut checker.diagnostics);
    let has_errors = failed || checker.diagnostics.iter().any(Diagnostic::is_error);
    // Unused definitions are reported once the file has no error: an error
    // often hides the reference that would have used them.
    if context.warn_unused && !has_errors {
        // A definition that only a sweep refers to (`sweep base.data = [a, b]`)
        // is used by the sweep's points.
        for statement in statements {
            if let Statement::Sweep(sweep) = statement {
                for value in sweep.axes.iter().flat_map(|axis| &axis.values) {
                    collect_referenced_names(value, &mut checker.used);
                }
            }
        }
        for statement in statements {
            if let Statement::Definition(definition) = statement {
                // Definitions shared through `use` serve many experiments;
                // only the main file's own are expected to be used.
                let in_main_file = definition.name.span.file == crate::diagnostic::FileId(0);
                if in_main_file
                    && !checker.used.contains(&definition.name.text)
                    && context.broken.is_empty()
                {
                    checker.diagnostics.push(
                        Diagnostic::warning(
                            definition.name.span,
                            format!(
                                "{} `{}` is never used",
                                definition.kind.keyword(),
                                definition.name.text
                            ),
                        )
                        .with_hint("remove it, or refer to it from a stage"),
                    );
                }
            }
        }
    }
    let errors = checker.diagnostics.iter().any(Diagnostic::is_error);
    diagnostics.append(&mut checker.diagnostics);
    if failed || errors {
        return None;
    }
    let settings = settings?;
    Some(Experiment {
        name: context.name.text.clone(),
        seed,
        replicates: settings
            .get("replicates")
            .and_then(Value::as_integer)
            .unwrap_or(1),
        description: settings
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        definitions,
    })
}

/// The span of field `name` of a stage's value, or of the stage's name.
fn field_span(stage: &Stage, name: &str) -> Span {
    stage
        .fields
        .iter()
        .find(|field| field.name.text == name)
        .map_or_else(|| stage_name(stage).1, |field| field.value.span)
}

/// The span of argument `argument` of the call in field `name`, if written.
fn argument_span(stage: &Stage, name: &str, argument: &str) -> Option<Span> {
    let field = stage.fields.iter().find(|field| field.name.text == name)?;
    let ExpressionKind::Call(call) = &field.value.kind else {
        return None;
    };
    call.arguments
        .iter()
        .find(|candidate| candidate.name.as_ref().is_some_and(|n| n.text == argument))
        .map(|argument| argument.value.span)
}

fn check_stage(
    stage: &Stage,
    checker: &mut Checker<'_>,
    definitions: &BTreeMap<String, Definition>,
    names: &BTreeMap<String, Declared>,
) -> Option<Definition> {
    let (name, name_span) = stage_name(stage);
    let owner = format!("`{} {name}`", stage.kind.keyword());
    let (schema, kind) = match stage.kind {
        StageKind::Pretrain => (catalog::PRETRAIN, NameKind::Pretrain),
        StageKind::Rl => (catalog::RL, NameKind::Rl),
        StageKind::Eval => (catalog::EVAL, NameKind::Eval),
        StageKind::Report => (catalog::REPORT, NameKind::Report),
    };
    let mut fields = checker.fields(&stage.fields, schema, &owner, name_span, "field")?;
    match stage.kind {
        StageKind::Pretrain => derive_pretrain(stage, &mut fields, checker, definitions)?,
        StageKind::Rl => derive_rl(stage, &mut fields, checker, definitions)?,
        StageKind::Eval => check_eval(stage, &fields, checker)?,
        StageKind::Report => {
            if !fields.contains_key("evals") {
                let evals: Vec<Value> = names
                    .iter()
                    .filter(|(_, declared)| declared.kind == NameKind::Eval)
                    .map(|(name, _)| Value::Reference(name.clone()))
                    .collect();
                if evals.is_empty() {
                    checker.diagnostics.push(
                        Diagnostic::error(name_span, format!("{owner} has nothing to report"))
                            .with_hint(
                                "add an `eval` block, or name the evaluations with `evals = [...]`",
                            ),
                    );
                    return None;
                }
                fields.insert("evals".to_string(), Value::List(evals));
            }
        }
    }
    Some(Definition {
        kind,
        value: Value::Record(fields),
    })
}

fn derive_pretrain(
    stage: &Stage,
    fields: &mut BTreeMap<String, Value>,
    checker: &mut Checker<'_>,
    definitions: &BTreeMap<String, Definition>,
) -> Option<()> {
    let model = fields
        .get("model")
        .and_then(Value::as_str)
        .and_then(|model| definitions.get(model))?;
    let context = model.value.get("context").and_then(Value::as_integer)?;
    let sequence_length = *fields
        .entry("sequence_length".to_string())
        .or_insert(Value::Integer(context))
        .as_integer()
        .get_or_insert(context);
    if sequence_length > context {
        checker.diagnostics.push(Diagnostic::error(
            field_span(stage, "sequence_length"),
            format!("`sequence_length` ({sequence_length}) is longer than the model's context ({context})"),
        ));
        return None;
    }
    // Every source pretrained on must have solutions in a format.
    let terms = match fields.get("data") {
        Some(Value::Mixture(terms)) => terms.clone(),
        Some(Value::Reference(mixture)) => {
            match definitions.get(mixture).map(|definition| &definition.value) {
                Some(Value::Mixture(terms)) => terms.clone(),
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    let mut ok = true;
    for term in &terms {
        // A source that failed its own check was reported already.
        let lacks_format = definitions
            .get(&term.source)
            .is_some_and(|definition| definition.value.get("format").is_none());
        if lacks_format {
            checker.diagnostics.push(
                Diagnostic::error(
                    field_span(stage, "data"),
                    format!(
                        "source `{}` has no `format`, so it has no solutions to pretrain on",
                        term.source
                    ),
                )
                .with_hint("add `format = code`, `code_text` or `prose` to the source"),
            );
            ok = false;
        }
    }
    let tokens = fields.get("tokens").and_then(Value::as_integer)?;
    let batch = fields.get("batch").and_then(Value::as_integer)?;
    let per_step = batch.saturating_mul(sequence_length).max(1);
    let total_steps = (tokens + per_step - 1) / per_step;
    if let Some(Value::Steps(StepCount::Absolute(warmup))) = fields
        .get("schedule")
        .and_then(|schedule| schedule.get("warmup"))
    {
        if *warmup > total_steps {
            let span = argument_span(stage, "schedule", "warmup")
                .unwrap_or_else(|| field_span(stage, "schedule"));
            checker.diagnostics.push(
                Diagnostic::error(span, format!("warmup of {warmup} steps is longer than training ({total_steps} steps)"))
                    .with_hint(format!("{tokens} tokens at {batch} sequences of {sequence_length} tokens make {total_steps} steps; a percentage such as `warmup = 2%` scales with training")),
            );
            ok = false;
        }
    }
    ok.then_some(())
}

/// The number of problems a source gives, when it is known without reading data.
fn source_problem_count(source: &Value) -> Option<i64> {
    if let Some(problems) = source.get("problems").and_then(Value::as_integer) {
        return Some(problems);
    }
    match (
        source.call_name(),
        source.get("split").and_then(Value::as_str),
    ) {
        (Some("gsm8k"), Some("test")) => Some(1319),
        (Some("gsm8k"), _) => Some(7473),
        _ => None,
    }
}

fn derive_rl(
    stage: &Stage,
    fields: &mut BTreeMap<String, Value>,
    checker: &mut Checker<'_>,
    definitions: &BTreeMap<String, Definition>,
) -> Option<()> {
    let algorithm = fields
        .get("algorithm")
        .and_then(Value::call_name)
        .unwrap_or("ppo")
        .to_string();
    let (estimator, placement) = if algorithm == "grpo" {
        ("k3", "loss")
    } else {
        ("k1", "reward")
    };
    fields
        .entry("kl_estimator".to_string())
        .or_insert(Value::Symbol(estimator.to_string()));
    fields
        .entry("kl_placement".to_string())
        .or_insert(Value::Symbol(placement.to_string()));
    let steps_written = stage.fields.iter().any(|field| field.name.text == "steps");
    match fields.remove("epochs") {
        Some(epochs) if steps_written => {
            let _ = epochs;
            checker.diagnostics.push(
                Diagnostic::error(
                    field_span(stage, "epochs"),
                    "`steps` and `epochs` are both set".to_string(),
                )
                .with_hint("set one of them: `epochs` is turned into steps"),
            );
            return None;
        }
        Some(epochs) => {
            let prompts = match fields.get("prompts") {
                Some(Value::Reference(name)) => definitions
                    .get(name)
                    .map(|definition| definition.value.clone()),
                other => other.cloned(),
            };
            let Some(problems) = prompts.as_ref().and_then(source_problem_count) else {
                checker.diagnostics.push(
                    Diagnostic::error(
                        field_span(stage, "epochs"),
                        "`epochs` needs a known number of prompts".to_string(),
                    )
                    .with_hint("set `problems` on the prompt source, or write `steps`"),
                );
                return None;
            };
            let per_step = fields.get("prompts_per_step").and_then(Value::as_integer)?;
            let steps = (epochs.as_number()? * problems as f64 / per_step as f64)
                .ceil()
                .max(1.0) as i64;
            fields.insert("steps".to_string(), Value::Integer(steps));
        }
        None => {
            fields
                .entry("steps".to_string())
                .or_insert(Value::Integer(100));
        }
    }
    let steps = fields.get("steps").and_then(Value::as_integer)?;
    if let Some(Value::Steps(StepCount::Absolute(warmup))) = fields
        .get("schedule")
        .and_then(|schedule| schedule.get("warmup"))
    {
        if *warmup > steps {
            let span = argument_span(stage, "schedule", "warmup")
                .unwrap_or_else(|| field_span(stage, "schedule"));
            checker.diagnostics.push(Diagnostic::error(
                span,
                format!("warmup of {warmup} steps is longer than training ({steps} steps)"),
            ));
            return None;
        }
    }
    Some(())
}

fn check_eval(
    stage: &Stage,
    fields: &BTreeMap<String, Value>,
    checker: &mut Checker<'_>,
) -> Option<()> {
    let samples = fields.get("samples").and_then(Value::as_integer)?;
    let Some(Value::List(metrics)) = fields.get("metrics") else {
        return Some(());
    };
    let metric_spans: Vec<Span> = match stage
        .fields
        .iter()
        .find(|field| field.name.text == "metrics")
    {
        Some(Field {
            value:
                Expression {
                    kind: ExpressionKind::List(items),
                    ..
                },
            ..
        }) => items.iter().map(|item| item.span).collect(),
        _ => Vec::new(),
    };
    let mut ok = true;
    for (index, metric) in metrics.iter().enumerate() {
        if let Value::Metric(name, k) = metric {
            if *k > samples {
                let span = metric_spans
                    .get(index)
                    .copied()
                    .unwrap_or_else(|| stage_name(stage).1);
                checker.diagnostics.push(
                    Diagnostic::error(span, format!("`{name}@{k}` needs {k} samples per question, but `samples` is {samples}"))
                        .with_hint(format!("raise `samples` to at least {k}")),
                );
                ok = false;
            }
        }
    }
    ok.then_some(())
}

/// Reports RL stages that start, directly or not, from themselves. Read
/// from the syntax tree, so a cycle is found even when a stage in it has
/// another error.
fn check_rl_cycles(stages: &[&Stage], diagnostics: &mut Vec<Diagnostic>) {
    let from_of = |name: &str| -> Option<String> {
        let stage = stages
            .iter()
            .find(|stage| stage.kind == StageKind::Rl && stage_name(stage).0 == name)?;
        let field = stage
            .fields
            .iter()
            .find(|field| field.name.text == "from")?;
        single_name(&field.value).map(str::to_string)
    };
    for stage in stages.iter().filter(|stage| stage.kind == StageKind::Rl) {
        let (start, _) = stage_name(stage);
        let mut chain = vec![start.to_string()];
        let mut current = start.to_string();
        while let Some(next) = from_of(&current) {
            if next == start {
                // Reported once, at the alphabetically first member of the cycle.
                if chain.iter().min().map(String::as_str) == Some(start) {
                    chain.push(next);
                    diagnostics.push(
                        Diagnostic::error(field_span(stage, "from"), format!("`{start}` starts from itself: {}", chain.join(" -> ")))
                            .with_hint("an `rl` stage must start from a `pretrain` stage or an earlier `rl` stage"),
                    );
                }
                break;
            }
            if chain.contains(&next) {
                break;
            }
            chain.push(next.clone());
            current = next;
        }
    }
}

/// Adds the first name of every path inside `expression` to `names`.
fn collect_referenced_names(expression: &Expression, names: &mut BTreeSet<String>) {
    match &expression.kind {
        ExpressionKind::Path(path) => {
            if let Some(first) = path.first() {
                names.insert(first.text.clone());
            }
        }
        ExpressionKind::Call(call) => {
            for argument in &call.arguments {
                collect_referenced_names(&argument.value, names);
            }
        }
        ExpressionKind::List(items) | ExpressionKind::Tuple(items) | ExpressionKind::Sum(items) => {
            for item in items {
                collect_referenced_names(item, names);
            }
        }
        ExpressionKind::Product(left, right) => {
            collect_referenced_names(left, names);
            collect_referenced_names(right, names);
        }
        ExpressionKind::Quantity(_)
        | ExpressionKind::String(_)
        | ExpressionKind::Range(..)
        | ExpressionKind::Metric(..) => {}
    }
}
