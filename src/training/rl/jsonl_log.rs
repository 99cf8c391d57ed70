//! [`JsonlLog`]: an append-only JSON-lines file whose records carry a
//! `step`, truncated on resume to the steps a checkpoint covers.
//!
//! Used for the RL stage's `metrics.jsonl` and `samples.jsonl`. A resumed
//! run first keeps only the complete lines of steps up to its checkpoint
//! (a kill may leave later lines or a torn last line), so the file reads as
//! one uninterrupted run, byte for byte.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::RlError;
use crate::training::write_atomically;

/// An append-only JSON-lines file.
#[derive(Debug)]
pub struct JsonlLog {
    path: PathBuf,
    file: File,
}

impl JsonlLog {
    /// Opens `path`, keeping the lines whose `step` is at most
    /// `keep_through_step` (none for a fresh run: pass `None`).
    pub fn open(path: &Path, keep_through_step: Option<u64>) -> Result<Self, RlError> {
        let kept = match (std::fs::read_to_string(path), keep_through_step) {
            (Ok(text), Some(limit)) => text
                .lines()
                .filter(|line| {
                    serde_json::from_str::<serde_json::Value>(line).is_ok_and(|value| {
                        value
                            .get("step")
                            .and_then(serde_json::Value::as_u64)
                            .is_some_and(|step| step <= limit)
                    })
                })
                .map(|line| format!("{line}\n"))
                .collect::<String>(),
            (Ok(_), None) => String::new(),
            (Err(error), _) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            (Err(error), _) => return Err(RlError::io(path)(error)),
        };
        write_atomically(path, kept.as_bytes())?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(RlError::io(path))?;
        Ok(JsonlLog {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends one record as a line.
    pub fn record(&mut self, record: &impl Serialize) -> Result<(), RlError> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(RlError::io(&self.path))
    }
}
