//! Atomic file writes: a temporary file in the same directory, written and
//! fsynced, then renamed over the target, then the directory fsynced. A
//! reader (or a process killed at any moment) sees the old file or the new
//! one, never a torn one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::TrainingError;

/// Writes `bytes` to `path` atomically.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), TrainingError> {
    let directory = path.parent().unwrap_or_else(|| Path::new("."));
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = directory.join(format!(".{file_name}.tmp"));
    {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temporary)
            .map_err(TrainingError::io(&temporary))?;
        file.write_all(bytes)
            .map_err(TrainingError::io(&temporary))?;
        file.sync_all().map_err(TrainingError::io(&temporary))?;
    }
    std::fs::rename(&temporary, path).map_err(TrainingError::io(path))?;
    sync_directory(directory)
}

/// Fsyncs a directory so that renames inside it are durable.
pub fn sync_directory(directory: &Path) -> Result<(), TrainingError> {
    File::open(directory)
        .and_then(|handle| handle.sync_all())
        .map_err(TrainingError::io(directory))
}
