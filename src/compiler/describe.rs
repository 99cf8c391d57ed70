//! Types and values in words, for diagnostics.

use super::schema::{NameKind, Type};
use crate::syntax::ast::{Expression, ExpressionKind};

/// What a type accepts, in words: "a whole number", "one of `a` or `b`".
pub fn expected(kind: &Type) -> String {
    match kind {
        Type::Integer { .. } => "a whole number".to_string(),
        Type::Number { .. } => "a number".to_string(),
        Type::Boolean => "`true` or `false`".to_string(),
        Type::Text => "a string".to_string(),
        Type::File => "a file path in double quotes".to_string(),
        Type::Folder => "a folder path in double quotes".to_string(),
        Type::Choice(names) => format!("one of {}", backticked(names)),
        Type::IntegerRange { .. } => "a range such as `1..3`".to_string(),
        Type::Reference(kinds) => format!("the name of {}", kinds_in_words(kinds)),
        Type::Source => "a source (its name, or a call such as `synthetic(...)`)".to_string(),
        Type::Mixture => {
            "a mixture (its name, or sources with weights such as `a + 4 * b`)".to_string()
        }
        Type::Call(calls) => {
            let names: Vec<String> = calls
                .iter()
                .map(|call| format!("{}(...)", call.name))
                .collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            if names.len() == 1 {
                format!("a call `{}`", names[0])
            } else {
                format!("one of {}", backticked(&names))
            }
        }
        Type::List(item) => format!("a list, each element {}", expected(item)),
        Type::Pair(..) => "a pair such as `(0.9, 0.95)`".to_string(),
        Type::Metric => "a metric such as `pass@8` or `format_share`".to_string(),
        Type::Steps => "a number of steps or a percentage of all steps".to_string(),
    }
}

/// What was written, in words: "the number `3`", "a string".
pub fn found(expression: &Expression) -> String {
    match &expression.kind {
        ExpressionKind::Quantity(quantity) => format!("the number `{}`", quantity.text),
        ExpressionKind::String(_) => "a string".to_string(),
        ExpressionKind::Range(low, high) => format!("the range `{low}..{high}`"),
        ExpressionKind::Metric(name, k) => format!("the metric `{}@{k}`", name.text),
        ExpressionKind::Path(names) => {
            let path: Vec<&str> = names.iter().map(|name| name.text.as_str()).collect();
            format!("the name `{}`", path.join("."))
        }
        ExpressionKind::Call(call) => format!("a call to `{}`", call.name.text),
        ExpressionKind::List(_) => "a list".to_string(),
        ExpressionKind::Tuple(_) => "a tuple".to_string(),
        ExpressionKind::Sum(_) | ExpressionKind::Product(..) => "a mixture expression".to_string(),
    }
}

/// How to write `field`'s value when `expression` is of the wrong kind
/// for `kind`: the slips people make (a number in quotes, a list where
/// one value goes), else an example of the kind.
pub fn mismatch_hint(expression: &Expression, kind: &Type, field: &str) -> Option<String> {
    let numeric = matches!(kind, Type::Integer { .. } | Type::Number { .. });
    match (&expression.kind, kind) {
        (ExpressionKind::String(text), _) if numeric => {
            Some(if text.trim().parse::<f64>().is_ok() {
                format!(
                    "write the number without quotes: `{field} = {}`",
                    text.trim()
                )
            } else {
                format!("`{field}` takes {}, written without quotes", expected(kind))
            })
        }
        (ExpressionKind::List(_), Type::List(_)) => None,
        (ExpressionKind::List(_), _) => Some(format!(
            "`{field}` takes one value; to run several, sweep it: `sweep STAGE.{field} = [...]`"
        )),
        (_, Type::Integer { .. }) => Some(format!("for example `{field} = 8`")),
        (_, Type::Number { .. }) => {
            Some(format!("for example `{field} = 0.5` or `{field} = 1e-3`"))
        }
        (_, Type::Boolean) => Some(format!("`{field} = true` or `{field} = false`")),
        (_, Type::Text) => Some(format!("in double quotes: `{field} = \"...\"`")),
        (ExpressionKind::Path(_), Type::File | Type::Folder) => Some(format!(
            "paths go in double quotes: `{field} = \"data/...\"`"
        )),
        _ => None,
    }
}

/// `a source`, `a pretrain or rl stage`.
pub fn kinds_in_words(kinds: &[NameKind]) -> String {
    let words: Vec<String> = kinds
        .iter()
        .map(|kind| format!("`{}`", kind.keyword()))
        .collect();
    let stages = kinds
        .iter()
        .all(|kind| !matches!(kind, NameKind::Source | NameKind::Mixture | NameKind::Model));
    let noun = if stages { "stage" } else { "definition" };
    format!("a {} {noun}", words.join(" or "))
}

/// `` `a`, `b` or `c` ``.
pub fn backticked(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
