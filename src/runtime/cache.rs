//! [`Cache`]: stage outputs stored by stage key.
//!
//! Layout under the cache root (`.echolab/cache` unless `--cache` or
//! `ECHOLAB_CACHE` says otherwise):
//!
//! ```text
//! v1/<key>/manifest.json     what the entry holds, with every artifact's blake3
//! v1/<key>/<artifact>...     the artifacts
//! staging/<key>.<pid>.<n>/   an entry being written (never read)
//! locks/<key>.lock           held while a process computes <key>
//! ```
//!
//! An entry is written in `staging/`, every file and the folder fsynced,
//! then renamed into `v1/`: a reader sees a whole entry or none, whatever
//! kills the writer. `v1` is [`CACHE_LAYOUT`]; a change to the layout gets a
//! new folder name, so old and new echolab never read each other's entries.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::plan::{digest_file, StageKey, StageKind};

/// The folder name of the current entry layout.
pub const CACHE_LAYOUT: &str = "v1";

/// A problem with the cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// A file or folder of the cache could not be read or written.
    #[error("cache: cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A manifest is not valid JSON of the expected shape.
    #[error("cache: the manifest `{path}` is corrupt: {message}")]
    CorruptManifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> CacheError + 'a {
    move |source| CacheError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// An artifact's blake3 and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactDigest {
    /// 64 hex digits.
    pub blake3: String,
    /// Bytes.
    pub size: u64,
}

/// What a cache entry holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The stage key.
    pub key: StageKey,
    /// The stage kind.
    pub kind: StageKind,
    /// The stage's name when it was computed (for people; not part of the key).
    pub name: String,
    /// Every artifact, by path relative to the entry, with its digest.
    pub artifacts: BTreeMap<String, ArtifactDigest>,
    /// The echolab version that computed it.
    pub echolab: String,
}

/// A complete entry: its folder and manifest.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The entry's folder.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

impl Entry {
    /// The path of one artifact.
    pub fn artifact(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Re-hashes every file of the entry's folder against the manifest:
    /// the artifacts it lists that are missing or whose bytes differ, and
    /// the files it does not list. Empty when the entry is intact.
    pub fn damage(&self) -> Vec<Damage> {
        let mut damage = Vec::new();
        for (name, expected) in &self.manifest.artifacts {
            match digest_file(&self.path.join(name)) {
                Ok(actual) if actual.blake3 == expected.blake3 && actual.size == expected.size => {}
                Ok(_) => damage.push(Damage::Changed(name.clone())),
                Err(_) => damage.push(Damage::Missing(name.clone())),
            }
        }
        match files_below(&self.path) {
            Ok(files) => {
                for file in files {
                    let relative = relative_name(&self.path, &file);
                    if relative != MANIFEST && !self.manifest.artifacts.contains_key(&relative) {
                        damage.push(Damage::Unlisted(relative));
                    }
                }
            }
            Err(error) => damage.push(Damage::Manifest(format!(
                "cannot be checked: its folder cannot be listed ({error})"
            ))),
        }
        damage
    }
}

/// The name of a cache entry's manifest.
const MANIFEST: &str = "manifest.json";

/// What is wrong with a cache entry on disk, found by [`Entry::damage`] or
/// [`Cache::inspect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// The manifest is missing, is not a manifest, or names another key.
    Manifest(String),
    /// An artifact the manifest lists is not there.
    Missing(String),
    /// An artifact's bytes differ from the digest in the manifest.
    Changed(String),
    /// A file in the entry that the manifest does not list.
    Unlisted(String),
}

impl std::fmt::Display for Damage {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Damage::Manifest(why) => write!(formatter, "`{MANIFEST}` {why}"),
            Damage::Missing(name) => write!(formatter, "`{name}` is missing"),
            Damage::Changed(name) => {
                write!(
                    formatter,
                    "`{name}` differs from its digest in `{MANIFEST}`"
                )
            }
            Damage::Unlisted(name) => write!(formatter, "`{name}` is not in `{MANIFEST}`"),
        }
    }
}

/// Damage in words, `; `-separated.
pub fn damage_text(damage: &[Damage]) -> String {
    damage
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What [`Cache::inspect`] found for a key.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// No entry.
    Absent,
    /// An entry whose every file matches its manifest.
    Intact(Entry),
    /// An entry folder that must not be used: what is wrong with it.
    Damaged {
        /// The entry's folder.
        path: PathBuf,
        /// What is wrong.
        damage: Vec<Damage>,
    },
}

/// The content-addressed store of stage outputs.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

/// Tells apart the staging folders of one process.
static STAGING_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Cache {
    /// The cache rooted at `root` (created on first write).
    pub fn new(root: &Path) -> Self {
        Cache {
            root: root.to_path_buf(),
        }
    }

    /// The cache's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn entries(&self) -> PathBuf {
        self.root.join(CACHE_LAYOUT)
    }

    /// Where the entry of `key` lives (whether or not it exists).
    pub fn entry_path(&self, key: &StageKey) -> PathBuf {
        self.entries().join(&key.0)
    }

    /// The entry of `key`, if it is complete: its manifest reads and every
    /// artifact it lists exists with the recorded size. This reads no
    /// artifact's bytes: before trusting an entry's bytes, use
    /// [`Cache::inspect`] (or [`Cache::intact`]), which does.
    pub fn get(&self, key: &StageKey) -> Result<Option<Entry>, CacheError> {
        let path = self.entry_path(key);
        let manifest_path = path.join(MANIFEST);
        let text = match fs::read_to_string(&manifest_path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io("read", &manifest_path)(error)),
        };
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|error| CacheError::CorruptManifest {
                path: manifest_path.clone(),
                message: error.to_string(),
            })?;
        if &manifest.key != key {
            return Err(CacheError::CorruptManifest {
                path: manifest_path,
                message: format!("it is for key {}", manifest.key),
            });
        }
        let complete = manifest.artifacts.iter().all(|(name, digest)| {
            fs::metadata(path.join(name)).is_ok_and(|metadata| metadata.len() == digest.size)
        });
        Ok(complete.then_some(Entry { path, manifest }))
    }

    /// The entry of `key` checked byte for byte: every file in its folder
    /// listed in its manifest with its digest, every listed file there.
    /// Re-hashes the whole entry (blake3; docs/runtime.md gives the cost).
    pub fn inspect(&self, key: &StageKey) -> Result<Lookup, CacheError> {
        let path = self.entry_path(key);
        if !path.exists() {
            return Ok(Lookup::Absent);
        }
        let manifest_path = path.join(MANIFEST);
        let text = match fs::read_to_string(&manifest_path) {
            Ok(text) => text,
            Err(error) => {
                let why = if error.kind() == std::io::ErrorKind::NotFound {
                    "is missing".to_string()
                } else {
                    format!("cannot be read ({error})")
                };
                return Ok(Lookup::Damaged {
                    path,
                    damage: vec![Damage::Manifest(why)],
                });
            }
        };
        let manifest: Manifest = match serde_json::from_str(&text) {
            Ok(manifest) => manifest,
            Err(error) => {
                return Ok(Lookup::Damaged {
                    path,
                    damage: vec![Damage::Manifest(format!("is not a manifest ({error})"))],
                })
            }
        };
        if &manifest.key != key {
            let why = format!("is for key {}", manifest.key);
            return Ok(Lookup::Damaged {
                path,
                damage: vec![Damage::Manifest(why)],
            });
        }
        let entry = Entry { path, manifest };
        let damage = entry.damage();
        Ok(if damage.is_empty() {
            Lookup::Intact(entry)
        } else {
            Lookup::Damaged {
                path: entry.path,
                damage,
            }
        })
    }

    /// The entry of `key` if [`Cache::inspect`] finds it intact.
    pub fn intact(&self, key: &StageKey) -> Result<Option<Entry>, CacheError> {
        Ok(match self.inspect(key)? {
            Lookup::Intact(entry) => Some(entry),
            Lookup::Absent | Lookup::Damaged { .. } => None,
        })
    }

    /// A fresh staging folder to write an entry of `key` into.
    pub fn staging(&self, key: &StageKey) -> Result<PathBuf, CacheError> {
        let count = STAGING_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            self.root
                .join("staging")
                .join(format!("{}.{}.{count}", key.0, std::process::id()));
        if path.exists() {
            fs::remove_dir_all(&path).map_err(io("clear", &path))?;
        }
        fs::create_dir_all(&path).map_err(io("create", &path))?;
        Ok(path)
    }

    /// Publishes the staged folder as the entry of `key`: hashes every file
    /// in it into the manifest, fsyncs, and renames it into place. If another
    /// process published the same key first, its entry is kept and ours is
    /// dropped (the bytes are the same: that is what a key means).
    pub fn publish(
        &self,
        key: &StageKey,
        kind: StageKind,
        name: &str,
        staged: &Path,
    ) -> Result<Entry, CacheError> {
        let mut artifacts = BTreeMap::new();
        for file in files_below(staged)? {
            let relative = relative_name(staged, &file);
            if relative == MANIFEST {
                continue;
            }
            let digest = digest_file(&file).map_err(io("hash", &file))?;
            sync_file(&file)?;
            artifacts.insert(
                relative,
                ArtifactDigest {
                    blake3: digest.blake3,
                    size: digest.size,
                },
            );
        }
        let manifest = Manifest {
            key: key.clone(),
            kind,
            name: name.to_string(),
            artifacts,
            echolab: env!("CARGO_PKG_VERSION").to_string(),
        };
        let manifest_path = staged.join(MANIFEST);
        let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
        write_synced(&manifest_path, text.as_bytes())?;
        sync_directories_below(staged)?;
        let target = self.entry_path(key);
        fs::create_dir_all(self.entries()).map_err(io("create", &self.entries()))?;
        if let Some(existing) = self.get(key)? {
            fs::remove_dir_all(staged).map_err(io("remove", staged))?;
            return Ok(existing);
        }
        if target.exists() {
            // An incomplete entry (corrupt, or an artifact deleted): replace it.
            fs::remove_dir_all(&target).map_err(io("remove", &target))?;
        }
        // Fault injection for the crash tests: die with the entry staged and
        // synced but not yet renamed into place.
        if std::env::var_os("ECHOLAB_FAULT_ABORT_BEFORE_PUBLISH").is_some() {
            std::process::abort();
        }
        match fs::rename(staged, &target) {
            Ok(()) => {}
            Err(_) if self.get(key)?.is_some() => {
                fs::remove_dir_all(staged).map_err(io("remove", staged))?;
            }
            Err(error) => return Err(io("publish", &target)(error)),
        }
        sync_directory(&self.entries())?;
        Ok(Entry {
            path: target,
            manifest,
        })
    }

    /// Removes the entry of `key`, if any.
    pub fn remove(&self, key: &StageKey) -> Result<(), CacheError> {
        let path = self.entry_path(key);
        if path.exists() {
            fs::remove_dir_all(&path).map_err(io("remove", &path))?;
        }
        Ok(())
    }

    /// The keys of every entry folder (complete or not).
    pub fn keys(&self) -> Result<Vec<StageKey>, CacheError> {
        let entries = self.entries();
        let mut keys = Vec::new();
        match fs::read_dir(&entries) {
            Ok(listing) => {
                for item in listing {
                    let item = item.map_err(io("list", &entries))?;
                    keys.push(StageKey(item.file_name().to_string_lossy().into_owned()));
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io("list", &entries)(error)),
        }
        keys.sort();
        Ok(keys)
    }

    /// The folder that holds per-key lock files.
    pub fn locks(&self) -> PathBuf {
        self.root.join("locks")
    }

    /// Whether a process holds the lock of `key` right now, that is, is
    /// computing that stage (the lock is released when the process ends,
    /// however it ends).
    pub fn is_being_computed(&self, key: &StageKey) -> bool {
        let path = self.locks().join(format!("{}.lock", key.0));
        let Ok(file) = fs::OpenOptions::new().write(true).open(&path) else {
            return false;
        };
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                false
            }
            Err(_) => true,
        }
    }
}

/// The name of `file` inside `folder`, with `/` between its parts.
fn relative_name(folder: &Path, file: &Path) -> String {
    file.strip_prefix(folder).map_or_else(
        |_| file.to_string_lossy().into_owned(),
        |relative| relative.to_string_lossy().replace('\\', "/"),
    )
}

/// Every file below `folder` that is not a folder (links and other
/// special files included, so that a damage check sees them), sorted.
fn files_below(folder: &Path) -> Result<Vec<PathBuf>, CacheError> {
    let mut files = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(current) = pending.pop() {
        for item in fs::read_dir(&current).map_err(io("list", &current))? {
            let item = item.map_err(io("list", &current))?;
            let path = item.path();
            let kind = item.file_type().map_err(io("inspect", &path))?;
            if kind.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn sync_file(path: &Path) -> Result<(), CacheError> {
    fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(io("sync", path))
}

fn sync_directory(path: &Path) -> Result<(), CacheError> {
    fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(io("sync", path))
}

fn sync_directories_below(folder: &Path) -> Result<(), CacheError> {
    let mut pending = vec![folder.to_path_buf()];
    while let Some(current) = pending.pop() {
        for item in fs::read_dir(&current).map_err(io("list", &current))? {
            let item = item.map_err(io("list", &current))?;
            if item
                .file_type()
                .map_err(io("inspect", &item.path()))?
                .is_dir()
            {
                pending.push(item.path());
            }
        }
        sync_directory(&current)?;
    }
    Ok(())
}

/// Writes `bytes` to `path` and fsyncs it.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    let mut file = fs::File::create(path).map_err(io("create", path))?;
    file.write_all(bytes).map_err(io("write", path))?;
    file.sync_all().map_err(io("sync", path))
}
