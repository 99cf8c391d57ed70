//! The language reference's tables, rendered from the [`catalog`](super::catalog).
//!
//! `docs/language.md` embeds this output between markers, and a test keeps
//! the two equal, so the documented defaults are always the real ones.

use std::fmt::Write as _;

use super::catalog;
use super::describe::expected;
use super::schema::{CallSchema, Default, FieldSchema};

/// Markdown tables of every construct's fields: name, type, default, meaning.
pub fn markdown() -> String {
    let mut out = String::new();
    blocks(
        &mut out,
        "Experiment settings",
        "experiment NAME { ... }",
        catalog::EXPERIMENT_SETTINGS,
    );
    calls(&mut out, "Sources", "source NAME = ...", catalog::SOURCES);
    calls(&mut out, "Models", "model NAME = ...", catalog::MODELS);
    blocks(
        &mut out,
        "Pretraining",
        "pretrain NAME { ... }",
        catalog::PRETRAIN,
    );
    calls(
        &mut out,
        "Optimizers",
        "optimizer = ...",
        catalog::OPTIMIZERS,
    );
    calls(
        &mut out,
        "Learning-rate schedules",
        "schedule = ...",
        catalog::LEARNING_RATE_SCHEDULES,
    );
    blocks(
        &mut out,
        "Reinforcement learning",
        "rl NAME { ... }",
        catalog::RL,
    );
    calls(
        &mut out,
        "Algorithms",
        "algorithm = ...",
        catalog::ALGORITHMS,
    );
    calls(&mut out, "KL schedules", "kl = ...", catalog::KL_SCHEDULES);
    blocks(&mut out, "Evaluation", "eval [NAME] { ... }", catalog::EVAL);
    calls(
        &mut out,
        "Evaluation times",
        "at = ...",
        catalog::EVALUATION_TIMES,
    );
    blocks(
        &mut out,
        "Reports",
        "report [NAME] { ... }",
        catalog::REPORT,
    );
    calls(
        &mut out,
        "Cluster resources",
        "resources = ...",
        catalog::RESOURCES,
    );
    out
}

fn blocks(out: &mut String, title: &str, syntax: &str, fields: &[FieldSchema]) {
    let _ = writeln!(out, "### {title}\n\n`{syntax}`\n");
    table(out, fields);
}

fn calls(out: &mut String, title: &str, syntax: &str, calls: &[CallSchema]) {
    let _ = writeln!(out, "### {title}\n\n`{syntax}`\n");
    for call in calls {
        let positional = if call.positional {
            " Arguments may also be given by position, in this order."
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "#### `{}(...)`\n\n{}{positional}\n",
            call.name, call.doc
        );
        if call.fields.is_empty() {
            let _ = writeln!(out, "No arguments.\n");
        } else {
            table(out, call.fields);
        }
    }
}

fn table(out: &mut String, fields: &[FieldSchema]) {
    let _ = writeln!(
        out,
        "| field | accepts | default | meaning |\n|---|---|---|---|"
    );
    for field in fields {
        let default = match field.default {
            Default::Required => "required".to_string(),
            Default::Value(text) => format!("`{text}`"),
            Default::Absent => "none".to_string(),
            Default::Derived(from) => format!("from {from}"),
        };
        let accepts = expected(&field.kind).replace('|', "\\|");
        let _ = writeln!(
            out,
            "| `{}` | {accepts} | {default} | {} |",
            field.name, field.doc
        );
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::super::checker::{Checker, DEFAULTS_FILE};
    use super::*;
    use crate::diagnostic::SourceMap;
    use std::collections::{BTreeMap, BTreeSet};

    /// Every default in the catalog is valid `.echo` of its field's type.
    #[test]
    fn every_default_checks_against_its_own_type() {
        let names = BTreeMap::new();
        let broken = BTreeSet::new();
        let sources = SourceMap::new();
        let mut checker = Checker {
            names: &names,
            broken: &broken,
            sources: &sources,
            main_directory: std::path::PathBuf::new(),
            project_root: std::path::PathBuf::new(),
            outside_project: false,
            seed: 0,
            diagnostics: Vec::new(),
            used: BTreeSet::new(),
        };
        let mut all: Vec<&FieldSchema> = Vec::new();
        for fields in catalog::BLOCKS {
            all.extend(fields.iter());
        }
        for calls in catalog::CALL_FAMILIES {
            for call in *calls {
                all.extend(call.fields);
            }
        }
        let mut checked = 0;
        for field in all {
            if let Default::Value(text) = field.default {
                let value = checker.default(text, &field.kind, field.name);
                assert!(
                    value.is_some(),
                    "default `{text}` of `{}` fails: {:?}",
                    field.name,
                    checker.diagnostics
                );
                checked += 1;
            }
        }
        assert!(checked > 40);
        assert!(checker
            .diagnostics
            .iter()
            .all(|d| d.span.file == DEFAULTS_FILE));
        assert!(checker.diagnostics.is_empty());
    }
}
