//! Data stages: a source's documents, generated or loaded.

use std::path::PathBuf;

use serde::Deserialize;

use super::{StageContext, StageError};
use crate::data::jsonl::{self, FieldMapping};
use crate::data::{gsm8k, write_shard, Document, Format, Split, SyntheticSource};

#[derive(Deserialize)]
struct Parameters {
    source: serde_json::Value,
}

fn field<'a>(source: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    source.get(name)
}

fn text(source: &serde_json::Value, name: &str) -> Option<String> {
    field(source, name)
        .and_then(|value| value.as_str())
        .map(str::to_string)
}

fn format_of(source: &serde_json::Value) -> Result<Option<Format>, StageError> {
    match text(source, "format") {
        None => Ok(None),
        Some(name) => Format::from_name(&name)
            .map(Some)
            .ok_or_else(|| StageError::Parameters {
                message: format!("unknown format `{name}`"),
            }),
    }
}

fn split_of(source: &serde_json::Value) -> Split {
    match text(source, "split").as_deref() {
        Some("test") => Split::Test,
        _ => Split::Train,
    }
}

fn range(source: &serde_json::Value, name: &str) -> Option<(i64, i64)> {
    let pair = field(source, name)?.as_array()?;
    Some((pair.first()?.as_i64()?, pair.get(1)?.as_i64()?))
}

/// The file at `path` (relative to the experiment's folder), resolved;
/// refused when it lies outside the project and the source does not say
/// `outside_project = true`: the checker's and the planner's rule.
fn input_path(
    context: &StageContext<'_>,
    source: &serde_json::Value,
    path: &str,
) -> Result<PathBuf, StageError> {
    let joined = context.experiment_directory.join(path);
    let resolved = joined.canonicalize().map_err(|error| StageError::Io {
        action: "read",
        path: joined.clone(),
        source: error,
    })?;
    let opted_in = field(source, "outside_project").and_then(serde_json::Value::as_bool);
    let root = crate::runtime::project_root(context.experiment_directory);
    if opted_in != Some(true) && !resolved.starts_with(&root) {
        return Err(StageError::Other(format!(
            "`{path}` is outside the project `{}`, and its source does not say `outside_project = true`",
            root.display()
        )));
    }
    Ok(resolved)
}

/// Generates or loads the documents, writes `documents.jsonl` and `statistics.json`.
pub(super) fn run(context: &mut StageContext<'_>) -> Result<(), StageError> {
    let Parameters { source } = context.parameters()?;
    let kind = text(&source, "kind").unwrap_or_default();
    let limit = field(&source, "problems")
        .and_then(|value| value.as_u64())
        .map(|value| value as usize);
    let mut unconvertible = 0;
    let mut documents: Vec<Document> = match kind.as_str() {
        "synthetic" => {
            let mut generator = SyntheticSource::new(
                field(&source, "seed")
                    .and_then(|value| value.as_u64())
                    .unwrap_or(0),
                format_of(&source)?,
                limit.unwrap_or(10_000),
            );
            generator.name = context.stage.name.clone();
            if let Some((low, high)) = range(&source, "difficulty") {
                generator.difficulty = low as usize..=high as usize;
            }
            if let Some((low, high)) = range(&source, "numbers") {
                generator.numbers = low..=high;
            }
            generator.noise = field(&source, "noise")
                .and_then(|value| value.as_f64())
                .unwrap_or(0.0);
            generator.test_fraction = field(&source, "test_fraction")
                .and_then(|value| value.as_f64())
                .unwrap_or(0.1);
            generator.split = split_of(&source);
            generator.render.docstring = field(&source, "docstring")
                .and_then(|value| value.as_bool())
                .unwrap_or(false);
            generator.generate()?
        }
        "gsm8k" => {
            let split = split_of(&source);
            let conversion = match text(&source, "path") {
                Some(folder) => {
                    let file = format!("{folder}/{}.jsonl", split.name());
                    input_path(context, &source, &file)?;
                    gsm8k::load(
                        &context.experiment_directory.join(folder),
                        split,
                        format_of(&source)?,
                    )?
                }
                None => gsm8k::load_text(
                    gsm8k::built_in(split),
                    std::path::Path::new(&format!("<built-in>/gsm8k/{}.jsonl", split.name())),
                    split,
                    format_of(&source)?,
                )?,
            };
            unconvertible = conversion.failures.len();
            if unconvertible > 0 {
                context.log(&format!("{unconvertible} GSM8K problems could not be rendered in this format and are left out"));
            }
            conversion.documents
        }
        "jsonl" => {
            let path = input_path(context, &source, &text(&source, "path").unwrap_or_default())?;
            let mut mapping = FieldMapping::new(
                &text(&source, "question").unwrap_or_else(|| "question".to_string()),
                &text(&source, "answer").unwrap_or_else(|| "answer".to_string()),
            );
            mapping.solution = text(&source, "solution");
            mapping.format = format_of(&source)?;
            jsonl::load(&path, &mapping)?
        }
        other => {
            return Err(StageError::Parameters {
                message: format!("unknown source kind `{other}`"),
            })
        }
    };
    if let Some(limit) = limit {
        if kind != "synthetic" {
            documents.truncate(limit);
        }
    }
    for document in &mut documents {
        document.source = context.stage.name.clone();
    }
    let path = context.output.join("documents.jsonl");
    write_shard(&path, &documents)?;
    let statistics = serde_json::json!({
        "documents": documents.len(),
        "noisy": documents.iter().filter(|document| document.noisy).count(),
        "unconvertible": unconvertible,
        "formats": crate::data::Format::ALL.iter().map(|format| (format.name(), documents.iter().filter(|document| document.format == Some(*format)).count())).collect::<std::collections::BTreeMap<_, _>>(),
    });
    context.write(
        "statistics.json",
        serde_json::to_string_pretty(&statistics)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    context.log(&format!("{} documents", documents.len()));
    Ok(())
}
