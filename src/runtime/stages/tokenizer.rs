//! Tokenizer stages: a tokenizer built from a pretraining mixture's documents.

use serde::Deserialize;

use super::{StageContext, StageError};
use crate::data::{Level, Tokenizer};

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
    let mut texts = Vec::new();
    for role in &parameters.data {
        texts.extend(
            context
                .documents(role)?
                .iter()
                .map(|document| document.text()),
        );
    }
    let tokenizer = Tokenizer::train(level, &texts);
    context.log(&format!(
        "{} tokens in the vocabulary, from {} documents",
        tokenizer.vocab_size(),
        texts.len()
    ));
    context.write("tokenizer.json", tokenizer.to_json().as_bytes())
}
