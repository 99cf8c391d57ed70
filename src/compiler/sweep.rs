//! Sweeps: validating parameter paths and expanding the grid of points.
//!
//! Each `sweep` statement is one axis of a grid; a `sweep zip { ... }` is
//! one axis whose paths advance together. A point is made by writing its
//! values into a copy of the syntax tree without its sweeps (adding a field
//! or argument that was left to its default) and checking that copy as a
//! whole, so every rule and derived default applies to swept values exactly
//! as to written ones, an error in a swept value points at that value, and
//! the work grows linearly with the number of points.

use std::collections::BTreeSet;

use super::analysis::{analyse, declare, stage_name, Context};
use super::catalog;
use super::checker::parse_default;
use super::experiment::SweepPoint;
use super::schema::{CallSchema, Default, FieldSchema, Type};
use super::value::Value;
use crate::diagnostic::did_you_mean;
use crate::diagnostic::{Diagnostic, Span};
use crate::syntax::ast::{
    Argument, Call, DefinitionKind, Expression, ExpressionKind, Field, Identifier, StageKind,
    Statement, Sweep,
};

/// Most points one experiment may expand to.
const MAXIMUM_POINTS: usize = 10_000;

/// One axis: its paths and, per path, its values.
struct Axis {
    paths: Vec<(Vec<String>, Span)>,
    values: Vec<Vec<Expression>>,
}

/// The validated axes of an experiment's sweeps.
pub(super) struct Axes(Vec<Axis>);

/// Checks every sweep's paths and list lengths. Returns `None` when one is
/// wrong (reported in `diagnostics`).
pub(super) fn validate(
    statements: &[Statement],
    sweeps: &[&Sweep],
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Axes> {
    let mut axes = Vec::new();
    let mut seen: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut ok = true;
    let unswept = without_sweeps(statements);
    for sweep in sweeps {
        let mut axis = Axis {
            paths: Vec::new(),
            values: Vec::new(),
        };
        for swept in &sweep.axes {
            let path: Vec<String> = swept.path.iter().map(|name| name.text.clone()).collect();
            if !seen.insert(path.clone()) {
                diagnostics.push(Diagnostic::error(
                    swept.path_span,
                    format!("`{}` is swept twice", path.join(".")),
                ));
                ok = false;
                continue;
            }
            let mut scratch = unswept.clone();
            let probe = swept.values.first().cloned().unwrap_or(Expression {
                kind: ExpressionKind::List(Vec::new()),
                span: swept.list_span,
            });
            if let Err((message, hint)) = apply(&mut scratch, &path, &probe) {
                diagnostics
                    .push(Diagnostic::error(swept.path_span, message).with_optional_hint(hint));
                ok = false;
                continue;
            }
            if swept.values.is_empty() {
                diagnostics.push(Diagnostic::error(
                    swept.list_span,
                    format!("the sweep of `{}` has no values", path.join(".")),
                ));
                ok = false;
                continue;
            }
            if let Some(first) = axis.values.first() {
                if first.len() != swept.values.len() {
                    diagnostics.push(
                        Diagnostic::error(
                            swept.list_span,
                            format!("zipped lists differ in length: `{}` has {} values, `{}` has {}", axis.paths[0].0.join("."), first.len(), path.join("."), swept.values.len()),
                        )
                        .with_hint("every list in `sweep zip` advances together, so they need the same length"),
                    );
                    ok = false;
                    continue;
                }
            }
            axis.paths.push((path, swept.path_span));
            axis.values.push(swept.values.clone());
        }
        if !axis.paths.is_empty() {
            axes.push(axis);
        }
    }
    ok.then_some(Axes(axes))
}

/// Expands validated sweeps into checked points. Returns `None` when a point
/// has an error (reported in `diagnostics`).
pub(super) fn expand(
    statements: &[Statement],
    axes: &Axes,
    sweeps: &[&Sweep],
    context: &Context<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Vec<SweepPoint>> {
    let axes = &axes.0;
    let mut ok = true;
    let lengths: Vec<usize> = axes.iter().map(|axis| axis.values[0].len()).collect();
    let total = lengths
        .iter()
        .try_fold(1usize, |total, &length| total.checked_mul(length));
    if total.is_none_or(|total| total > MAXIMUM_POINTS) {
        if let Some(sweep) = sweeps.first() {
            diagnostics.push(Diagnostic::error(
                sweep.span,
                format!("the sweep has more than {MAXIMUM_POINTS} points"),
            ));
        }
        return None;
    }
    let unswept = without_sweeps(statements);
    let mut points = Vec::with_capacity(total.unwrap_or_default());
    let mut reported: BTreeSet<(Span, String)> = BTreeSet::new();
    let mut index = vec![0usize; axes.len()];
    loop {
        let mut statements = unswept.clone();
        let mut assigned_paths = Vec::new();
        for (axis, &position) in axes.iter().zip(&index) {
            for ((path, _), values) in axis.paths.iter().zip(&axis.values) {
                // Validated above, so applying cannot fail here.
                let _ = apply(&mut statements, path, &values[position]);
                assigned_paths.push(path.clone());
            }
        }
        let mut point_diagnostics = Vec::new();
        let names = declare(&statements, &mut point_diagnostics);
        let experiment = analyse(&statements, &names, context, &mut point_diagnostics);
        for diagnostic in point_diagnostics.into_iter().filter(Diagnostic::is_error) {
            if reported.insert((diagnostic.span, diagnostic.message.clone())) {
                diagnostics.push(diagnostic);
            }
        }
        if let Some(experiment) = experiment {
            let assignments = assigned_paths
                .iter()
                .map(|path| {
                    (
                        path.join("."),
                        value_at(&experiment, path)
                            .cloned()
                            .unwrap_or(Value::Boolean(false)),
                    )
                })
                .collect();
            points.push(SweepPoint {
                assignments,
                experiment,
            });
        } else {
            ok = false;
        }
        // Advance the odometer, last axis fastest.
        let mut axis = axes.len();
        loop {
            if axis == 0 {
                return ok.then_some(points);
            }
            axis -= 1;
            index[axis] += 1;
            if index[axis] < lengths[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
}

/// The statements without the sweeps. A point is checked without them:
/// the analysis of a point reads settings, definitions and stages only,
/// and the sweeps hold every value of every axis, so copying them into
/// each point would make expansion quadratic in the number of points.
fn without_sweeps(statements: &[Statement]) -> Vec<Statement> {
    statements
        .iter()
        .filter(|statement| !matches!(statement, Statement::Sweep(_)))
        .cloned()
        .collect()
}

/// The checked value at `path` in an experiment.
fn value_at<'a>(
    experiment: &'a super::experiment::Experiment,
    path: &[String],
) -> Option<&'a Value> {
    let mut value = experiment.value(path.first()?)?;
    for segment in &path[1..] {
        value = value.get(segment)?;
    }
    Some(value)
}

type PathError = (String, Option<String>);

/// Writes `value` at `path` in the statements, adding the field or argument
/// if it was left to its default.
fn apply(
    statements: &mut [Statement],
    path: &[String],
    value: &Expression,
) -> Result<(), PathError> {
    let Some(head) = path.first() else {
        return Err(("empty sweep path".to_string(), None));
    };
    let mut names = Vec::new();
    for statement in statements.iter_mut() {
        match statement {
            Statement::Definition(definition) => {
                names.push(definition.name.text.clone());
                if &definition.name.text != head {
                    continue;
                }
                if path.len() == 1 {
                    definition.value = value.clone();
                    return Ok(());
                }
                let schemas = match definition.kind {
                    DefinitionKind::Source => catalog::SOURCES,
                    DefinitionKind::Model => catalog::MODELS,
                    DefinitionKind::Mixture => {
                        return Err((
                            format!("mixture `{head}` has no parameters"),
                            Some(format!(
                                "sweep the whole mixture: `sweep {head} = [a + b, a + 4 * b]`"
                            )),
                        ));
                    }
                };
                return set_in_call(&mut definition.value, head, &path[1..], value, schemas);
            }
            Statement::Stage(stage) => {
                let name = stage_name(stage).0.to_string();
                names.push(name.clone());
                if &name != head {
                    continue;
                }
                let schema = match stage.kind {
                    StageKind::Pretrain => catalog::PRETRAIN,
                    StageKind::Rl => catalog::RL,
                    StageKind::Eval => catalog::EVAL,
                    StageKind::Report => catalog::REPORT,
                };
                let Some(field_name) = path.get(1) else {
                    return Err((
                        format!("cannot sweep the whole stage `{head}`"),
                        Some(format!(
                            "sweep one of its fields, such as `{head}.{}`",
                            schema[0].name
                        )),
                    ));
                };
                let Some(field_schema) = schema.iter().find(|field| field.name == field_name)
                else {
                    let names: Vec<&str> = schema.iter().map(|field| field.name).collect();
                    return Err((
                        format!("`{head}` has no field `{field_name}`"),
                        did_you_mean(field_name, names.iter().copied()),
                    ));
                };
                let position = match stage
                    .fields
                    .iter()
                    .position(|field| &field.name.text == field_name)
                {
                    Some(position) => position,
                    None => {
                        let default = default_expression(field_schema, value.span);
                        stage.fields.push(Field {
                            name: Identifier {
                                text: field_name.clone(),
                                span: value.span,
                            },
                            value: default,
                            span: value.span,
                        });
                        stage.fields.len() - 1
                    }
                };
                let field = &mut stage.fields[position];
                if path.len() == 2 {
                    field.value = value.clone();
                    return Ok(());
                }
                let Type::Call(schemas) = field_schema.kind else {
                    return Err((format!("`{head}.{field_name}` has no parameters"), None));
                };
                return set_in_call(
                    &mut field.value,
                    &format!("{head}.{field_name}"),
                    &path[2..],
                    value,
                    schemas,
                );
            }
            _ => {}
        }
    }
    Err((
        format!("unknown name `{head}` in sweep"),
        did_you_mean(head, names.iter().map(String::as_str)),
    ))
}

/// The default of a field as an expression (or an empty call when it has none).
fn default_expression(schema: &FieldSchema, span: Span) -> Expression {
    let parsed = match schema.default {
        Default::Value(text) => parse_default(text, span.file),
        _ => None,
    };
    let mut expression = parsed.unwrap_or(Expression {
        kind: ExpressionKind::List(Vec::new()),
        span,
    });
    respan(&mut expression, span);
    expression
}

/// Gives every node of a default the span of the sweep value it stands for.
fn respan(expression: &mut Expression, span: Span) {
    expression.span = span;
    match &mut expression.kind {
        ExpressionKind::Call(call) => {
            call.name.span = span;
            for argument in &mut call.arguments {
                argument.span = span;
                if let Some(name) = &mut argument.name {
                    name.span = span;
                }
                respan(&mut argument.value, span);
            }
        }
        ExpressionKind::List(items) | ExpressionKind::Tuple(items) | ExpressionKind::Sum(items) => {
            items.iter_mut().for_each(|item| respan(item, span));
        }
        ExpressionKind::Product(left, right) => {
            respan(left, span);
            respan(right, span);
        }
        ExpressionKind::Path(names) => names.iter_mut().for_each(|name| name.span = span),
        ExpressionKind::Metric(name, _) => name.span = span,
        _ => {}
    }
}

fn set_in_call(
    expression: &mut Expression,
    owner: &str,
    rest: &[String],
    value: &Expression,
    schemas: &[CallSchema],
) -> Result<(), PathError> {
    if let ExpressionKind::Path(names) = &expression.kind {
        if names.len() == 1 {
            let name = names[0].clone();
            expression.kind = ExpressionKind::Call(Call {
                name,
                arguments: Vec::new(),
            });
        }
    }
    let ExpressionKind::Call(call) = &mut expression.kind else {
        return Err((
            format!("`{owner}` is not a call, so it has no `{}`", rest[0]),
            None,
        ));
    };
    let Some(schema) = schemas.iter().find(|schema| schema.name == call.name.text) else {
        return Err((format!("`{owner}` is not a known call"), None));
    };
    for (index, argument) in call.arguments.iter_mut().enumerate() {
        if argument.name.is_none() {
            if let Some(field) = schema.fields.get(index) {
                argument.name = Some(Identifier {
                    text: field.name.to_string(),
                    span: argument.span,
                });
            }
        }
    }
    let Some(field_schema) = schema.field(&rest[0]) else {
        let names: Vec<&str> = schema.fields.iter().map(|field| field.name).collect();
        let hint = did_you_mean(&rest[0], names.iter().copied()).or_else(|| {
            (!names.is_empty()).then(|| {
                format!(
                    "`{}` takes {}",
                    schema.name,
                    super::describe::backticked(&names)
                )
            })
        });
        return Err((
            format!(
                "`{owner}` (`{}`) has no parameter `{}`",
                schema.name, rest[0]
            ),
            hint,
        ));
    };
    let position = match call.arguments.iter().position(|argument| {
        argument
            .name
            .as_ref()
            .is_some_and(|name| name.text == rest[0])
    }) {
        Some(position) => position,
        None => {
            call.arguments.push(Argument {
                name: Some(Identifier {
                    text: rest[0].clone(),
                    span: value.span,
                }),
                value: default_expression(field_schema, value.span),
                span: value.span,
            });
            call.arguments.len() - 1
        }
    };
    let argument = &mut call.arguments[position];
    if rest.len() == 1 {
        argument.value = value.clone();
        return Ok(());
    }
    match field_schema.kind {
        Type::Call(inner) => set_in_call(
            &mut argument.value,
            &format!("{owner}.{}", rest[0]),
            &rest[1..],
            value,
            inner,
        ),
        _ => Err((format!("`{owner}.{}` has no parameters", rest[0]), None)),
    }
}
