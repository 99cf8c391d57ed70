//! Content digests of the files stages read.
//!
//! Files are hashed with blake3, memory-mapped and on all cores for large
//! files, streamed for small ones. Only regular files of at most
//! [`DATA_FILE_LIMIT`] are hashed: the file is opened and checked once
//! ([`crate::input_file`]), and the map or the bounded reader reads that
//! very file. Only the bytes count: never the mtime, never the absolute
//! path.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::input_file::{self, DATA_FILE_LIMIT};

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

/// The digest of the regular file at `path`, which must hold at most
/// [`DATA_FILE_LIMIT`] bytes. The size is the number of bytes hashed (files
/// in `/proc` report a size of 0).
pub fn digest_file(path: &Path) -> std::io::Result<InputDigest> {
    let mut file = input_file::open(path, DATA_FILE_LIMIT)?;
    let mut hasher = blake3::Hasher::new();
    let size = if file.get_ref().metadata()?.len() >= PARALLEL_THRESHOLD {
        // SAFETY: the map of the file opened and checked above is only read,
        // within this call. Another process truncating the file meanwhile
        // can fault the read (SIGBUS): the risk of every memory-mapped read,
        // blake3's own `update_mmap_rayon` included.
        let map = unsafe { memmap2::Mmap::map(file.get_ref())? };
        if map.len() as u64 > DATA_FILE_LIMIT {
            return Err(input_file::too_large(DATA_FILE_LIMIT));
        }
        hasher.update_rayon(&map);
        map.len() as u64
    } else {
        hasher.update_reader(&mut file)?;
        file.bytes_read()
    };
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
