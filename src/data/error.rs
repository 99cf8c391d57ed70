//! [`DataError`]: everything that can go wrong while making or reading data.

use std::path::PathBuf;

/// An error from the data stage: bad configuration, unreadable files,
/// malformed lines (with the file and line they are on) or tokenizer JSON.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be read or written.
    #[error("cannot access `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A JSONL line is not valid JSON or lacks a field.
    #[error("`{path}` line {line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// A synthetic source was configured in a way that cannot be generated.
    #[error("invalid synthetic source: {0}")]
    InvalidSource(String),
    /// A number could not be parsed.
    #[error("cannot parse `{0}` as a number")]
    Number(String),
    /// A tokenizer artifact could not be parsed or has the wrong version.
    #[error("invalid tokenizer json: {0}")]
    Tokenizer(String),
}
