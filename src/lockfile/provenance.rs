//! [`Provenance`]: where and with what a lock was made.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::plan::key::CANDLE_VERSION;

/// The tools and the repository state a lock was made with. Recorded for
/// reviewers; never compared by `--locked` (the keys already cover the
/// versions that change bits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// echolab's version.
    pub echolab: String,
    /// candle's version.
    pub candle: String,
    /// The project's git commit, when it is a git repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Whether the project had uncommitted changes (outside `lockfiles/`
    /// and the cache).
    #[serde(default)]
    pub dirty: bool,
    /// The platform: architecture and operating system. It names the
    /// machines on which the recorded outputs are promised (for
    /// `x86_64-linux`: any x86-64 processor with FMA, any caches and thread
    /// count, any C library; see docs/runtime.md).
    pub platform: String,
}

impl Provenance {
    /// The provenance of a lock made now in the project at `root`.
    pub fn current(root: &Path) -> Provenance {
        let (commit, dirty) = git_state(root).unwrap_or((None, false));
        Provenance {
            echolab: env!("CARGO_PKG_VERSION").to_string(),
            candle: CANDLE_VERSION.to_string(),
            commit,
            dirty,
            platform: format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
        }
    }
}

fn git_state(root: &Path) -> Option<(Option<String>, bool)> {
    let repository = git2::Repository::discover(root).ok()?;
    let commit = repository
        .head()
        .ok()
        .and_then(|head| head.peel_to_commit().ok())
        .map(|commit| commit.id().to_string());
    let mut options = git2::StatusOptions::new();
    options.include_untracked(true).include_ignored(false);
    let statuses = repository.statuses(Some(&mut options)).ok()?;
    let dirty = statuses.iter().any(|entry| {
        entry
            .path()
            .is_ok_and(|path| !path.starts_with("lockfiles/") && !path.starts_with(".echolab/"))
    });
    Some((commit, dirty))
}
