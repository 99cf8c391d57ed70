//! Tokenizer stages: a tokenizer built from a pretraining mixture's documents.

use serde::Deserialize;

use super::{StageContext, StageError};
use crate::data::{Level, Statistics, Tokenizer};

#[derive(Deserialize)]
struct Parameters {
    level: String,
    data: Vec<String>,
}

/// Builds the tokenizer from every document of the mixture's sources, in
/// mixture order, and writes `tokenizer.json`.
pub(super) fn run(context: &mut StageContext<'_>) -> Result<(), StageError> {
    let parameters: Parameters = context.parameters()?;
    let level = match parameters.level.as_str() {
        "character" => Level::Character,
        _ => Level::Word,
    };
    let mut documents = Vec::new();
    for role in &parameters.data {
        documents.extend(context.documents(role)?);
    }
    let texts: Vec<String> = documents.iter().map(|document| document.text()).collect();
    let tokenizer = Tokenizer::train(level, &texts);
    context.log(&format!(
        "{} tokens in the vocabulary, from {} documents",
        tokenizer.vocab_size(),
        texts.len()
    ));
    context.write("tokenizer.json", tokenizer.to_json().as_bytes())?;
    // Per source: documents per format, mean and longest length in tokens,
    // noise actually applied.
    let statistics = Statistics::measure(&documents, &tokenizer);
    let text = serde_json::to_string_pretty(&statistics)
        .map_err(|error| StageError::Other(error.to_string()))?;
    context.write("statistics.json", text.as_bytes())
}
