//! [`PlanFile`]: a compiled plan saved for `echolab exec-stage`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::plan::Plan;

/// Everything a separate process needs to run one stage of a plan: the
/// plan and where its experiment file is (relative inputs start there).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanFile {
    /// The folder of the experiment file.
    pub experiment_directory: PathBuf,
    /// The compiled plan.
    pub plan: Plan,
}

impl PlanFile {
    /// Writes the plan file.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let text = serde_json::to_string(self).map_err(std::io::Error::other)?;
        // A name of this process's own: two runs may save the same plan at once.
        let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
        std::fs::write(&temporary, text)?;
        std::fs::rename(&temporary, path)
    }

    /// Reads a plan file.
    pub fn read(path: &Path) -> std::io::Result<PlanFile> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text).map_err(|error| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("`{}` is not a plan file: {error}", path.display()),
            )
        })
    }
}
