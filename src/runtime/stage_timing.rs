//! [`StageTiming`]: how long a stage took to compute, recorded beside its
//! log (`.echolab/logs/<experiment>/<stage>.<key>.timing.json`), never in
//! the cache: a duration varies from run to run, and no artifact may hold
//! one. `echolab report` reads these records for the run table.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::log_file_name;
use crate::plan::{Stage, StageKey};

/// The record of one computation of a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTiming {
    /// The stage's name when it ran.
    pub stage: String,
    /// Its key.
    pub key: StageKey,
    /// Wall-clock seconds from the start of its computation to its publication.
    pub seconds: f64,
}

impl StageTiming {
    /// Where the record of `stage` lives in the log folder `logs`.
    pub fn path(logs: &Path, stage: &Stage) -> PathBuf {
        let log = log_file_name(stage);
        let stem = log.strip_suffix(".log").unwrap_or(&log);
        logs.join(format!("{stem}.timing.json"))
    }

    /// Records that `stage` took `elapsed` (replacing an earlier record of
    /// the same key, atomically).
    pub fn record(logs: &Path, stage: &Stage, elapsed: Duration) -> std::io::Result<()> {
        let timing = StageTiming {
            stage: stage.name.clone(),
            key: stage.key.clone(),
            seconds: elapsed.as_secs_f64(),
        };
        let path = StageTiming::path(logs, stage);
        let temporary = path.with_extension(format!("tmp.{}", std::process::id()));
        let text = serde_json::to_string(&timing).map_err(std::io::Error::other)?;
        std::fs::create_dir_all(logs)?;
        std::fs::write(&temporary, text)?;
        std::fs::rename(&temporary, &path)
    }

    /// The recorded seconds of `stage`, if a record of its key exists.
    pub fn read(logs: &Path, stage: &Stage) -> Option<f64> {
        let text = std::fs::read_to_string(StageTiming::path(logs, stage)).ok()?;
        let timing: StageTiming = serde_json::from_str(&text).ok()?;
        (timing.key == stage.key).then_some(timing.seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::StageKind;

    #[test]
    fn a_record_reads_back_for_its_key_only() {
        let folder = tempfile::tempdir().unwrap();
        let mut stage = Stage {
            name: "tuned[kl=constant(0)]".into(),
            kind: StageKind::Rl,
            key: StageKey("ab".repeat(32)),
            parameters: serde_json::Value::Null,
            settings: serde_json::Value::Null,
            upstream: Default::default(),
            inputs: Default::default(),
        };
        StageTiming::record(folder.path(), &stage, Duration::from_millis(1500)).unwrap();
        assert_eq!(StageTiming::read(folder.path(), &stage), Some(1.5));
        assert!(StageTiming::path(folder.path(), &stage)
            .ends_with("tuned_kl=constant_0__.abababababab.timing.json"));
        stage.key = StageKey("cd".repeat(32));
        assert_eq!(StageTiming::read(folder.path(), &stage), None);
    }
}
