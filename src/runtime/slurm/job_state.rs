//! [`JobState`]: where a batch job is, read from `squeue` and `sacct`.
//!
//! `squeue --states=all` knows every job the controller still holds
//! (pending, running, and finished ones for `MinJobAge` seconds); `sacct`
//! knows finished jobs from accounting (or, without a database, from the
//! job completion log). The follower asks `squeue` first and `sacct` for
//! the rest; both are read in their `--parsable` form, `|`-separated.

use std::collections::BTreeMap;
use std::fmt;

/// A Slurm job id, as `sbatch --parsable` prints it (without the cluster).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub String);

impl fmt::Display for JobId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl JobId {
    /// The id in `sbatch --parsable`'s output (`ID` or `ID;CLUSTER`), if any.
    pub fn from_sbatch_output(output: &str) -> Option<JobId> {
        let line = output
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())?;
        let id = line.split(';').next()?.trim();
        (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then(|| JobId(id.to_string()))
    }
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Waiting to start, for this reason (`Dependency`, `Resources`, ...).
    Waiting {
        /// Slurm's reason.
        reason: String,
    },
    /// Running (or completing).
    Running,
    /// Ended with exit code 0.
    Completed,
    /// Ended otherwise: failed, out of time or memory, node failure.
    Failed {
        /// Slurm's state name (`FAILED`, `TIMEOUT`, `OUT_OF_MEMORY`, ...).
        state: String,
        /// `EXIT:SIGNAL`, when known.
        exit_code: Option<String>,
    },
    /// Cancelled: by someone, or because a job it depends on failed.
    Cancelled {
        /// Slurm's reason, when known.
        reason: String,
    },
    /// Pending on a dependency that can never be satisfied (a job it waits
    /// for failed, and the cluster does not cancel such jobs): it will
    /// never run.
    DependencyNeverSatisfied,
}

impl JobState {
    /// Whether the job has ended (or never will run).
    pub fn is_final(&self) -> bool {
        !matches!(self, JobState::Waiting { .. } | JobState::Running)
    }

    /// The state of a job from Slurm's state name, reason and exit code.
    pub fn from_slurm(state: &str, reason: &str, exit_code: Option<&str>) -> JobState {
        // sacct writes `CANCELLED by 0`; the word is the state.
        let name = state
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reason = reason.trim();
        match name.as_str() {
            "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED"
            | "RESIZING" | "SUSPENDED" | "STOPPED" | "SIGNALING" | "RESV_DEL_HOLD" => {
                if reason == "DependencyNeverSatisfied" {
                    JobState::DependencyNeverSatisfied
                } else {
                    JobState::Waiting {
                        reason: reason.to_string(),
                    }
                }
            }
            "RUNNING" | "COMPLETING" | "STAGE_OUT" => JobState::Running,
            "COMPLETED" => JobState::Completed,
            "CANCELLED" => JobState::Cancelled {
                reason: reason.to_string(),
            },
            _ => JobState::Failed {
                state: name,
                exit_code: exit_code
                    .map(str::to_string)
                    .filter(|code| !code.is_empty()),
            },
        }
    }
}

/// Reads `squeue --noheader --format=%i|%T|%r` output.
pub fn parse_squeue(text: &str) -> BTreeMap<JobId, JobState> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split('|');
            let id = fields.next()?.trim();
            let state = fields.next()?;
            let reason = fields.next().unwrap_or("");
            if id.is_empty() {
                return None;
            }
            Some((
                JobId(id.to_string()),
                JobState::from_slurm(state, reason, None),
            ))
        })
        .collect()
}

/// Reads `sacct --noheader --parsable2 --format=JobID,State,ExitCode`
/// output; job steps (`12.batch`, `12.0`) are left out.
pub fn parse_sacct(text: &str) -> BTreeMap<JobId, JobState> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split('|');
            let id = fields.next()?.trim();
            let state = fields.next()?;
            let exit_code = fields.next();
            if id.is_empty() || id.contains('.') {
                return None;
            }
            Some((
                JobId(id.to_string()),
                JobState::from_slurm(state, "", exit_code),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_become_states() {
        let text = "\
12|COMPLETED|None
13|PENDING|Dependency
14|PENDING|DependencyNeverSatisfied
15|RUNNING|None
16|CANCELLED|DependencyNeverSatisfied
17|FAILED|NonZeroExitCode
18|TIMEOUT|TimeLimit
";
        let states = parse_squeue(text);
        let state = |id: &str| states.get(&JobId(id.to_string())).cloned();
        assert_eq!(state("12"), Some(JobState::Completed));
        assert_eq!(
            state("13"),
            Some(JobState::Waiting {
                reason: "Dependency".to_string()
            })
        );
        assert_eq!(state("14"), Some(JobState::DependencyNeverSatisfied));
        assert_eq!(state("15"), Some(JobState::Running));
        assert_eq!(
            state("16"),
            Some(JobState::Cancelled {
                reason: "DependencyNeverSatisfied".to_string()
            })
        );
        assert_eq!(
            state("17"),
            Some(JobState::Failed {
                state: "FAILED".to_string(),
                exit_code: None
            })
        );
        assert_eq!(
            state("18"),
            Some(JobState::Failed {
                state: "TIMEOUT".to_string(),
                exit_code: None
            })
        );
        assert_eq!(states.len(), 7);
        assert!(!state("13").unwrap().is_final());
        assert!(state("14").unwrap().is_final());
    }

    #[test]
    fn sacct_lines_become_states_without_steps() {
        let text = "\
1|FAILED|1:0
1.batch|FAILED|1:0
2|CANCELLED by 0|0:0
3|COMPLETED|0:0
3.batch|COMPLETED|0:0
4|OUT_OF_MEMORY|0:125
";
        let states = parse_sacct(text);
        assert_eq!(states.len(), 4);
        assert_eq!(
            states[&JobId("1".to_string())],
            JobState::Failed {
                state: "FAILED".to_string(),
                exit_code: Some("1:0".to_string())
            }
        );
        assert_eq!(
            states[&JobId("2".to_string())],
            JobState::Cancelled {
                reason: String::new()
            }
        );
        assert_eq!(states[&JobId("3".to_string())], JobState::Completed);
        assert_eq!(
            states[&JobId("4".to_string())],
            JobState::Failed {
                state: "OUT_OF_MEMORY".to_string(),
                exit_code: Some("0:125".to_string())
            }
        );
    }

    #[test]
    fn sbatch_output_gives_the_id() {
        assert_eq!(
            JobId::from_sbatch_output("42\n"),
            Some(JobId("42".to_string()))
        );
        assert_eq!(
            JobId::from_sbatch_output("42;cluster\n"),
            Some(JobId("42".to_string()))
        );
        assert_eq!(JobId::from_sbatch_output("sbatch: error\n"), None);
        assert_eq!(JobId::from_sbatch_output(""), None);
    }
}
