//! [`Document`]: one training or evaluation text with its metadata.

use serde::{Deserialize, Serialize};

use super::{Format, Split};

/// A question, optionally its solution in one format, and what is known
/// about it. The text a model sees is [`Document::text`]; the tokenizer adds
/// the end-of-sequence token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// The source's name (`synthetic`, `gsm8k`, a JSONL file's stem, ...).
    pub source: String,
    /// The solution's format; `None` for a question without a solution.
    pub format: Option<Format>,
    /// The question.
    pub question: String,
    /// The solution, if any.
    pub solution: Option<String>,
    /// The reference answer, as a number written out (`72`, `0.25`).
    pub answer: String,
    /// Whether a mistake was put into the solution on purpose (its final
    /// answer then differs from `answer`).
    pub noisy: bool,
    /// Train or test.
    pub split: Split,
}

impl Document {
    /// `question + "\n\n" + solution`, or the question alone.
    pub fn text(&self) -> String {
        match &self.solution {
            Some(solution) => format!("{}\n\n{}", self.question, solution),
            None => self.question.clone(),
        }
    }
}
