//! JSONL sources: any file of one JSON object per line, read through a
//! [`FieldMapping`] that says which keys hold the question, the answer and
//! optionally a solution in a known format.
//!
//! An answer written GSM8K style (`... #### 72`) is read after its last
//! `####`; numbers may carry commas. Malformed lines and missing fields are
//! errors naming the file and the line.

use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::Value;

use super::{DataError, Document, Format, Number, Split};
use crate::input_file::{self, DATA_FILE_LIMIT};

/// Which keys of a JSON line hold what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMapping {
    /// The key of the question text.
    pub question: String,
    /// The key of the answer (a number, or text ending `#### N`).
    pub answer: String,
    /// The key of a written solution, if the file has one.
    pub solution: Option<String>,
    /// The format the solutions are written in (needed with `solution`).
    pub format: Option<Format>,
    /// The source name for documents; the file's stem when `None`.
    pub source: Option<String>,
    /// The split the file's documents belong to.
    pub split: Split,
}

impl FieldMapping {
    /// Questions under `question` and answers under `answer`, no solutions,
    /// train split.
    pub fn new(question: &str, answer: &str) -> FieldMapping {
        FieldMapping {
            question: question.to_string(),
            answer: answer.to_string(),
            solution: None,
            format: None,
            source: None,
            split: Split::Train,
        }
    }
}

/// The final answer of an answer field: the text after the last `####`, or
/// the whole text.
pub fn parse_answer(text: &str) -> Result<Number, DataError> {
    let tail = text.rsplit_once("####").map_or(text, |(_, tail)| tail);
    Number::parse(tail.trim())
}

/// Reads every line of `path` as a [`Document`] through `mapping`: a
/// regular file of at most [`DATA_FILE_LIMIT`] bytes.
pub fn load(path: &Path, mapping: &FieldMapping) -> Result<Vec<Document>, DataError> {
    let io_error = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    if mapping.solution.is_some() && mapping.format.is_none() {
        return Err(DataError::Line {
            path: path.to_path_buf(),
            line: 0,
            message: "a `solution` field needs a `format`".to_string(),
        });
    }
    let source = mapping.source.clone().unwrap_or_else(|| {
        path.file_stem().map_or_else(
            || "jsonl".to_string(),
            |stem| stem.to_string_lossy().into_owned(),
        )
    });
    let file = input_file::open(path, DATA_FILE_LIMIT).map_err(io_error)?;
    let mut documents = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io_error)?;
        if line.trim().is_empty() {
            continue;
        }
        let error = |message: String| DataError::Line {
            path: path.to_path_buf(),
            line: index + 1,
            message,
        };
        let value: Value = serde_json::from_str(&line)
            .map_err(|problem| error(format!("invalid json: {problem}")))?;
        let text_field = |key: &str| -> Result<String, DataError> {
            match value.get(key) {
                Some(Value::String(text)) => Ok(text.clone()),
                Some(Value::Number(number)) => Ok(number.to_string()),
                Some(_) => Err(error(format!("field `{key}` is not a string or a number"))),
                None => Err(error(format!("missing field `{key}`"))),
            }
        };
        let question = text_field(&mapping.question)?;
        let answer_text = text_field(&mapping.answer)?;
        let answer = parse_answer(&answer_text)
            .map_err(|_| error(format!("field `{}` has no numeric answer", mapping.answer)))?;
        let solution = match &mapping.solution {
            Some(key) => Some(text_field(key)?),
            None => None,
        };
        documents.push(Document {
            source: source.clone(),
            format: solution.as_ref().and(mapping.format),
            question,
            solution,
            answer: answer.to_string(),
            noisy: false,
            split: mapping.split,
        });
    }
    Ok(documents)
}
