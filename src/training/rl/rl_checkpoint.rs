//! [`RlCheckpoint`]: the resumable state of the RL stage.
//!
//! The same layout and write protocol as pretraining's
//! [`Checkpoint`](crate::training::Checkpoint) (a temporary directory,
//! every file fsynced, renamed into place, then `latest.json` replaced
//! atomically, older directories removed last), with a state of its own:
//!
//! ```text
//! checkpoints/
//!   latest.json                 {"directory": "step-00000020"}
//!   step-00000020/
//!     weights.safetensors       the policy, plus `value_head.*` for PPO
//!     optimizer.safetensors     AdamW's moments (empty for Expert Iteration)
//!     state.json                RlCheckpointState
//! ```

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::RlError;
use crate::training::write_atomically;

/// The version of the RL checkpoint layout; bump it on any change.
pub const RL_CHECKPOINT_FORMAT_VERSION: u32 = 1;

/// A correct, de-duplicated completion Expert Iteration keeps for its
/// round's fine-tuning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeptSample {
    /// The prompt's index in the inputs.
    pub prompt: usize,
    /// The completion's tokens (ending with EOS when it finished).
    pub tokens: Vec<u32>,
}

/// `state.json` of an RL checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlCheckpointState {
    /// [`RL_CHECKPOINT_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// RL steps completed.
    pub step: u64,
    /// Optimizer steps taken (AdamW's bias correction needs it).
    pub optimizer_steps: u64,
    /// Completion tokens sampled so far.
    pub tokens: u64,
    /// The adaptive KL controller's coefficient.
    pub kl_controller: f64,
    /// Expert Iteration's samples kept so far in the current round.
    pub kept: Vec<KeptSample>,
    /// The run's fingerprint (configuration and inputs).
    pub fingerprint: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pointer {
    directory: String,
}

/// A complete RL checkpoint found on disk.
#[derive(Debug, Clone)]
pub struct RlCheckpoint {
    /// The checkpoint's directory.
    pub directory: PathBuf,
    /// Its state.
    pub state: RlCheckpointState,
}

fn root(work_dir: &Path) -> PathBuf {
    work_dir.join("checkpoints")
}

fn sync_directory(directory: &Path) -> Result<(), RlError> {
    File::open(directory)
        .and_then(|handle| handle.sync_all())
        .map_err(RlError::io(directory))
}

impl RlCheckpoint {
    /// The weights file.
    pub fn weights_path(&self) -> PathBuf {
        self.directory.join("weights.safetensors")
    }

    /// The optimizer-moments file.
    pub fn optimizer_path(&self) -> PathBuf {
        self.directory.join("optimizer.safetensors")
    }

    /// Writes a checkpoint under `work_dir` and makes it the latest.
    pub fn write(
        work_dir: &Path,
        state: &RlCheckpointState,
        weights: &[u8],
        optimizer: &[u8],
    ) -> Result<(), RlError> {
        let root = root(work_dir);
        std::fs::create_dir_all(&root).map_err(RlError::io(&root))?;
        let name = format!("step-{:08}", state.step);
        let temporary = root.join(format!(".tmp-{name}"));
        if temporary.exists() {
            std::fs::remove_dir_all(&temporary).map_err(RlError::io(&temporary))?;
        }
        std::fs::create_dir(&temporary).map_err(RlError::io(&temporary))?;
        write_atomically(&temporary.join("weights.safetensors"), weights)?;
        write_atomically(&temporary.join("optimizer.safetensors"), optimizer)?;
        write_atomically(
            &temporary.join("state.json"),
            &serde_json::to_vec_pretty(state)?,
        )?;
        let directory = root.join(&name);
        if directory.exists() {
            std::fs::remove_dir_all(&directory).map_err(RlError::io(&directory))?;
        }
        std::fs::rename(&temporary, &directory).map_err(RlError::io(&directory))?;
        sync_directory(&root)?;
        let pointer = Pointer {
            directory: name.clone(),
        };
        write_atomically(&root.join("latest.json"), &serde_json::to_vec(&pointer)?)?;
        for entry in std::fs::read_dir(&root).map_err(RlError::io(&root))? {
            let entry = entry.map_err(RlError::io(&root))?;
            let file_name = entry.file_name();
            if file_name == name.as_str() || file_name == "latest.json" {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path).map_err(RlError::io(&path))?;
            } else {
                std::fs::remove_file(&path).map_err(RlError::io(&path))?;
            }
        }
        Ok(())
    }

    /// The latest complete checkpoint under `work_dir`, if any.
    pub fn latest(work_dir: &Path) -> Result<Option<RlCheckpoint>, RlError> {
        let root = root(work_dir);
        let pointer_path = root.join("latest.json");
        let bytes = match std::fs::read(&pointer_path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(RlError::io(&pointer_path)(error)),
        };
        let malformed = |path: &Path, reason: String| RlError::MalformedCheckpoint {
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
        let state_bytes = std::fs::read(&state_path).map_err(RlError::io(&state_path))?;
        let state: RlCheckpointState = serde_json::from_slice(&state_bytes)
            .map_err(|error| malformed(&state_path, error.to_string()))?;
        if state.format_version != RL_CHECKPOINT_FORMAT_VERSION {
            return Err(malformed(
                &state_path,
                format!(
                    "format version {} (this echolab reads {RL_CHECKPOINT_FORMAT_VERSION})",
                    state.format_version
                ),
            ));
        }
        Ok(Some(RlCheckpoint { directory, state }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Stream;

    fn state(kl_controller: f64) -> RlCheckpointState {
        RlCheckpointState {
            format_version: RL_CHECKPOINT_FORMAT_VERSION,
            step: 6,
            optimizer_steps: 12,
            tokens: 640,
            kl_controller,
            kept: Vec::new(),
            fingerprint: "fingerprint".into(),
        }
    }

    /// The adaptive KL coefficient a resumed run starts from must be the
    /// bits the killed run saved, or every later coefficient drifts by an
    /// ulp. serde_json's default parser reads this coefficient (saved at
    /// step 6 by `tests/rl_stage.rs`'s kill test) as 0.011331146218285303,
    /// and about one 17-digit number in ten one bit off.
    #[test]
    fn a_checkpointed_kl_coefficient_reads_back_to_the_same_bits() {
        let work_dir = tempfile::tempdir().unwrap();
        let saved = 0.011331146218285305;
        RlCheckpoint::write(work_dir.path(), &state(saved), b"weights", b"moments").unwrap();
        let restored = RlCheckpoint::latest(work_dir.path()).unwrap().unwrap();
        assert_eq!(restored.state.kl_controller.to_bits(), saved.to_bits());

        let mut stream = Stream::new(11);
        for _ in 0..20_000 {
            // Coefficients of the size the adaptive controller produces.
            let coefficient = stream.next_f64() * 0.05;
            let json = serde_json::to_vec_pretty(&state(coefficient)).unwrap();
            let read: RlCheckpointState = serde_json::from_slice(&json).unwrap();
            assert_eq!(
                read.kl_controller.to_bits(),
                coefficient.to_bits(),
                "{coefficient:?} read back as {:?}",
                read.kl_controller
            );
        }
    }
}
