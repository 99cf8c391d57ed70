//! Shards: a set of documents written as JSON lines and read back.
//!
//! One document per line keeps shards streamable and diffable; a malformed
//! line is reported with its file and line number.

use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use super::{DataError, Document};

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `documents` to `path`, one JSON object per line.
pub fn write_shard(path: &Path, documents: &[Document]) -> Result<(), DataError> {
    let file = fs::File::create(path).map_err(io_error(path))?;
    let mut writer = BufWriter::new(file);
    for document in documents {
        let line = serde_json::to_string(document).map_err(|error| DataError::Line {
            path: path.to_path_buf(),
            line: 0,
            message: error.to_string(),
        })?;
        writer.write_all(line.as_bytes()).map_err(io_error(path))?;
        writer.write_all(b"\n").map_err(io_error(path))?;
    }
    writer.flush().map_err(io_error(path))
}

/// Reads the documents of a shard written by [`write_shard`]; blank lines
/// are skipped.
pub fn read_shard(path: &Path) -> Result<Vec<Document>, DataError> {
    let file = fs::File::open(path).map_err(io_error(path))?;
    let mut documents = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io_error(path))?;
        if line.trim().is_empty() {
            continue;
        }
        let document = serde_json::from_str(&line).map_err(|error| DataError::Line {
            path: path.to_path_buf(),
            line: index + 1,
            message: format!("not a document: {error}"),
        })?;
        documents.push(document);
    }
    Ok(documents)
}
