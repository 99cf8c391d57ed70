//! [`PytorchFigures`]: runs `scripts/pytorch_reference.py` (the same GPT in
//! PyTorch) so that `echolab bench training` prints both side by side.
//!
//! The Python is `ECHOLAB_PYTORCH` if set, else the virtual environment
//! `scripts/setup_pytorch.sh` makes (`.echolab/pytorch-venv`); without
//! either, or when the script fails, the bench says PyTorch is not
//! available and goes on.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The reference's figures for one preset.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct PytorchFigures {
    /// The preset's name.
    pub preset: String,
    /// Training tokens per second (batch 32, sequence length 128).
    pub training_tokens_per_second: f64,
    /// Decoded tokens per second (64 rows, greedy, key-value cache).
    pub sampling_tokens_per_second: f64,
    /// Training tokens per second if a step took only the time of its
    /// matrix products, each timed alone with `torch.matmul`.
    pub training_ceiling_tokens_per_second: f64,
}

/// The repository's root (where `scripts/` is).
fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Python to run, if any.
fn python() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ECHOLAB_PYTORCH") {
        return Some(PathBuf::from(path));
    }
    let venv = repository().join(".echolab/pytorch-venv/bin/python");
    venv.exists().then_some(venv)
}

/// Runs the reference for `presets` on `threads` threads; `Err` says why
/// there are no figures.
pub fn measure(presets: &[&str], threads: usize) -> Result<Vec<PytorchFigures>, String> {
    let python = python().ok_or("not available (run scripts/setup_pytorch.sh)")?;
    let output = Command::new(&python)
        .arg(repository().join("scripts/pytorch_reference.py"))
        .arg("--threads")
        .arg(threads.to_string())
        .arg("--presets")
        .args(presets)
        .output()
        .map_err(|error| format!("cannot run `{}`: {error}", python.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("").to_string();
        return Err(format!(
            "not available (`{}` failed: {last})",
            python.display()
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).map_err(|error| error.to_string()))
        .collect()
}
