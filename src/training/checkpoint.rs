//! [`Checkpoint`]: the resumable state of a run (pretraining or RL), written
//! so that a kill at any moment leaves a complete checkpoint.
//!
//! Layout under the work directory (`state.json` holds the run kind's own
//! state type, [`CheckpointState`] for pretraining):
//!
//! ```text
//! checkpoints/
//!   latest.json                 {"directory": "step-00000040"}
//!   step-00000040/
//!     weights.safetensors       the model's weights, as in model.safetensors
//!     optimizer.safetensors     first_moment.<name>, second_moment.<name>
//!     state.json                CheckpointState
//! ```
//!
//! A new checkpoint is written into `.tmp-step-N/` (every file fsynced),
//! renamed to `step-N/`, and only then does `latest.json` (itself replaced
//! atomically) point to it; older step directories are removed last. So
//! `latest.json` always names a complete directory.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::atomic_file::{sync_directory, write_atomically};
use super::TrainingError;

/// The version of the checkpoint layout; bump it on any change.
pub const CHECKPOINT_FORMAT_VERSION: u32 = 1;

/// The small JSON part of a checkpoint (`state.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointState {
    /// [`CHECKPOINT_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// Optimizer steps completed.
    pub step: u64,
    /// The data position: target tokens consumed from the mixture stream.
    /// The mixture's random numbers are derived from the seed and the epoch
    /// without counters, so no stream position needs saving.
    pub tokens_consumed: u64,
    /// The mixture epoch being read (informative).
    pub epoch: u64,
    /// The run's fingerprint (configuration and data).
    pub fingerprint: String,
}

/// What a run kind keeps in `state.json`: serialisable, versioned, and
/// knowing its step.
pub trait CheckpointStateFormat: Serialize + DeserializeOwned + Clone {
    /// The layout version this echolab writes and reads.
    const FORMAT_VERSION: u32;
    /// The layout version recorded in this state.
    fn format_version(&self) -> u32;
    /// Steps completed when the checkpoint was written.
    fn step(&self) -> u64;
}

impl CheckpointStateFormat for CheckpointState {
    const FORMAT_VERSION: u32 = CHECKPOINT_FORMAT_VERSION;

    fn format_version(&self) -> u32 {
        self.format_version
    }

    fn step(&self) -> u64 {
        self.step
    }
}

/// Where `latest.json` points.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pointer {
    directory: String,
}

/// A complete checkpoint found on disk, with its run kind's state.
#[derive(Debug, Clone)]
pub struct Checkpoint<State = CheckpointState> {
    /// The checkpoint's directory.
    pub directory: PathBuf,
    /// Its state.
    pub state: State,
}

/// The folder of checkpoints under `work_dir`.
pub fn checkpoints_directory(work_dir: &Path) -> PathBuf {
    work_dir.join("checkpoints")
}

fn step_directory_name(step: u64) -> String {
    format!("step-{step:08}")
}

impl<State: CheckpointStateFormat> Checkpoint<State> {
    /// The weights file of this checkpoint.
    pub fn weights_path(&self) -> PathBuf {
        self.directory.join("weights.safetensors")
    }

    /// The optimizer-moments file of this checkpoint.
    pub fn optimizer_path(&self) -> PathBuf {
        self.directory.join("optimizer.safetensors")
    }

    /// Writes a checkpoint under `work_dir` and makes it the latest.
    pub fn write(
        work_dir: &Path,
        state: &State,
        weights: &[u8],
        optimizer: &[u8],
    ) -> Result<Checkpoint<State>, TrainingError> {
        let root = checkpoints_directory(work_dir);
        std::fs::create_dir_all(&root).map_err(TrainingError::io(&root))?;
        let name = step_directory_name(state.step());
        let temporary = root.join(format!(".tmp-{name}"));
        if temporary.exists() {
            std::fs::remove_dir_all(&temporary).map_err(TrainingError::io(&temporary))?;
        }
        std::fs::create_dir(&temporary).map_err(TrainingError::io(&temporary))?;
        write_atomically(&temporary.join("weights.safetensors"), weights)?;
        write_atomically(&temporary.join("optimizer.safetensors"), optimizer)?;
        write_atomically(
            &temporary.join("state.json"),
            &serde_json::to_vec_pretty(state)?,
        )?;
        let directory = root.join(&name);
        if directory.exists() {
            // Left by a run killed before it moved `latest.json` here.
            std::fs::remove_dir_all(&directory).map_err(TrainingError::io(&directory))?;
        }
        std::fs::rename(&temporary, &directory).map_err(TrainingError::io(&directory))?;
        sync_directory(&root)?;
        let pointer = Pointer {
            directory: name.clone(),
        };
        write_atomically(&root.join("latest.json"), &serde_json::to_vec(&pointer)?)?;
        remove_all_but(&root, &name)?;
        Ok(Checkpoint {
            directory,
            state: state.clone(),
        })
    }

    /// The latest complete checkpoint under `work_dir`, if any.
    pub fn latest(work_dir: &Path) -> Result<Option<Checkpoint<State>>, TrainingError> {
        let root = checkpoints_directory(work_dir);
        let pointer_path = root.join("latest.json");
        let bytes = match std::fs::read(&pointer_path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(TrainingError::io(&pointer_path)(error)),
        };
        let malformed = |path: &Path, reason: String| TrainingError::MalformedCheckpoint {
            path: path.to_path_buf(),
            reason,
        };
        let pointer: Pointer = serde_json::from_slice(&bytes)
            .map_err(|error| malformed(&pointer_path, error.to_string()))?;
        if pointer.directory.contains(['/', '\\']) || pointer.directory.starts_with('.') {
            return Err(malformed(
                &pointer_path,
                format!("bad directory `{}`", pointer.directory),
            ));
        }
        let directory = root.join(&pointer.directory);
        let state_path = directory.join("state.json");
        let state_bytes = std::fs::read(&state_path).map_err(TrainingError::io(&state_path))?;
        let state: State = serde_json::from_slice(&state_bytes)
            .map_err(|error| malformed(&state_path, error.to_string()))?;
        if state.format_version() != State::FORMAT_VERSION {
            return Err(malformed(
                &state_path,
                format!(
                    "format version {} (this echolab reads {})",
                    state.format_version(),
                    State::FORMAT_VERSION
                ),
            ));
        }
        Ok(Some(Checkpoint { directory, state }))
    }
}

/// Removes every entry of `root` except `keep` and `latest.json`.
fn remove_all_but(root: &Path, keep: &str) -> Result<(), TrainingError> {
    let entries = std::fs::read_dir(root).map_err(TrainingError::io(root))?;
    for entry in entries {
        let entry = entry.map_err(TrainingError::io(root))?;
        let name = entry.file_name();
        if name == keep || name == "latest.json" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).map_err(TrainingError::io(&path))?;
        } else {
            std::fs::remove_file(&path).map_err(TrainingError::io(&path))?;
        }
    }
    Ok(())
}
