//! Content digests of the files stages read.
//!
//! Files are hashed with blake3, memory-mapped and on all cores for large
//! files (blake3's `update_mmap_rayon`), streamed for small ones. Only the
//! bytes count: never the mtime, never the absolute path.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// A file's blake3 and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputDigest {
    /// 64 hex digits of blake3.
    pub blake3: String,
    /// Size in bytes.
    pub size: u64,
}

/// Files at least this large are hashed on every core.
const PARALLEL_THRESHOLD: u64 = 1 << 20;

/// The digest of the file at `path`.
pub fn digest_file(path: &Path) -> std::io::Result<InputDigest> {
    let size = std::fs::metadata(path)?.len();
    let mut hasher = blake3::Hasher::new();
    if size >= PARALLEL_THRESHOLD {
        hasher.update_mmap_rayon(path)?;
    } else {
        hasher.update_reader(std::fs::File::open(path)?)?;
    }
    Ok(InputDigest {
        blake3: hasher.finalize().to_hex().to_string(),
        size,
    })
}

/// The digest of bytes held in memory (a built-in data set).
pub fn digest_bytes(bytes: &[u8]) -> InputDigest {
    InputDigest {
        blake3: blake3::hash(bytes).to_hex().to_string(),
        size: bytes.len() as u64,
    }
}
