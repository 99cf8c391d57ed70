//! [`SlurmClient`]: Slurm's own commands (`sbatch`, `squeue`, `sacct`,
//! `scancel`, `sinfo`), run as child processes and read in their parsable
//! forms. Whatever configuration those commands find (`SLURM_CONF`, the
//! system's) is the cluster used.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use super::job_state::{parse_sacct, parse_squeue, JobId, JobState};
use super::SlurmError;

/// Runs Slurm's commands.
#[derive(Debug, Clone, Default)]
pub struct SlurmClient;

impl SlurmClient {
    /// Submits the batch script at `script` and returns its job's id.
    pub fn submit(&self, script: &Path) -> Result<JobId, SlurmError> {
        let output = run(
            "sbatch",
            Command::new("sbatch").arg("--parsable").arg(script),
        )?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(SlurmError::Command {
                command: "sbatch",
                message: failure_message(&output),
            });
        }
        JobId::from_sbatch_output(&stdout).ok_or_else(|| SlurmError::Command {
            command: "sbatch",
            message: format!("no job id in its output `{}`", stdout.trim()),
        })
    }

    /// The state of each of `jobs` that Slurm still knows: from `squeue`,
    /// then `sacct` for the jobs `squeue` no longer holds. An error when
    /// `squeue` fails and `sacct` knows none of them either.
    pub fn states(&self, jobs: &[JobId]) -> Result<BTreeMap<JobId, JobState>, SlurmError> {
        if jobs.is_empty() {
            return Ok(BTreeMap::new());
        }
        let list = join(jobs);
        let output = run(
            "squeue",
            Command::new("squeue").args([
                "--noheader",
                "--states=all",
                "--format=%i|%T|%r",
                "--jobs",
                &list,
            ]),
        )?;
        // squeue fails when it knows none of the jobs: sacct may.
        let squeue_answered = output.status.success();
        let mut states = if squeue_answered {
            parse_squeue(&String::from_utf8_lossy(&output.stdout))
        } else {
            BTreeMap::new()
        };
        let missing: Vec<JobId> = jobs
            .iter()
            .filter(|job| !states.contains_key(*job))
            .cloned()
            .collect();
        if !missing.is_empty() {
            states.extend(self.accounting_states(&missing));
        }
        if !squeue_answered && states.is_empty() {
            // Neither knows anything: the controller may be unreachable.
            return Err(SlurmError::Command {
                command: "squeue",
                message: failure_message(&output),
            });
        }
        Ok(states)
    }

    /// The states of finished `jobs` from `sacct`: from the accounting
    /// database, or else from the job completion log (`--completion`).
    fn accounting_states(&self, jobs: &[JobId]) -> BTreeMap<JobId, JobState> {
        let list = join(jobs);
        let arguments = [
            "--noheader",
            "--parsable2",
            "--format=JobID,State,ExitCode",
            "--jobs",
            &list,
        ];
        for extra in [&["--allocations"][..], &["--completion"][..]] {
            let Ok(output) = Command::new("sacct").args(extra).args(arguments).output() else {
                return BTreeMap::new();
            };
            if output.status.success() {
                let states = parse_sacct(&String::from_utf8_lossy(&output.stdout));
                if !states.is_empty() {
                    return states;
                }
            }
        }
        BTreeMap::new()
    }

    /// Cancels `jobs` (best effort: a job may have ended meanwhile).
    pub fn cancel(&self, jobs: &[JobId]) {
        if jobs.is_empty() {
            return;
        }
        let _ = Command::new("scancel")
            .arg("--quiet")
            .args(jobs.iter().map(|job| job.0.as_str()))
            .output();
    }
}

/// Runs `command`, named `name` in errors.
fn run(name: &'static str, command: &mut Command) -> Result<Output, SlurmError> {
    command.output().map_err(|source| SlurmError::Spawn {
        command: name,
        source,
    })
}

/// What a failed command said (its standard error, else its status).
fn failure_message(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let message = stderr.trim();
    if message.is_empty() {
        format!("exited with {}", output.status)
    } else {
        message.to_string()
    }
}

/// Job ids as Slurm's `--jobs` takes them.
fn join(jobs: &[JobId]) -> String {
    jobs.iter()
        .map(|job| job.0.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
