//! [`SlurmExecutor`]: submits one batch job per uncached stage, then follows
//! the jobs to their end.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{JobId, JobScript, JobState, ResourceTable, Resources, SlurmClient, SlurmError};
use crate::plan::{Plan, Stage, StageKey};
use crate::runtime::execute::{log_file_name, Places};
use crate::runtime::executor::{Executor, ExecutorError, Outcome, RunReport};

/// How long a job may be unknown to both `squeue` and `sacct` before its
/// stage counts as failed (it left the controller, and there is no
/// accounting to say how it ended).
const FORGOTTEN_LIMIT: Duration = Duration::from_secs(60);

/// How long Slurm may not answer at all before following gives up (the
/// jobs go on; a rerun picks up their entries).
const UNANSWERED_LIMIT: Duration = Duration::from_secs(300);

/// How stages are submitted: where, with what.
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// The partition (`--partition`); the cluster's default when `None`.
    pub partition: Option<String>,
    /// Extra `#SBATCH` options for every job, verbatim.
    pub extra_arguments: Vec<String>,
    /// What each kind of stage asks for.
    pub resources: ResourceTable,
    /// How often to ask Slurm where the jobs are.
    pub poll_interval: Duration,
}

impl Default for SlurmOptions {
    fn default() -> SlurmOptions {
        SlurmOptions {
            partition: None,
            extra_arguments: Vec::new(),
            resources: ResourceTable::default(),
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// Runs stages as Slurm batch jobs. The paths it is given may be relative:
/// it makes every path a job sees absolute.
#[derive(Debug, Clone)]
pub struct SlurmExecutor {
    /// Where and with what to submit.
    pub options: SlurmOptions,
    /// The `echolab` binary the jobs run (`std::env::current_exe`).
    pub program: PathBuf,
    /// The plan `echolab run` saved, which the jobs read.
    pub plan_file: PathBuf,
    /// The jobs' working folder (the project's top).
    pub working_directory: PathBuf,
    /// Whether to draw a progress line on standard error.
    pub show_progress: bool,
    /// Slurm's commands.
    pub client: SlurmClient,
}

/// One stage to submit.
#[derive(Debug, Clone)]
pub struct PlannedJob {
    /// The stage's key.
    pub key: StageKey,
    /// The stage's name.
    pub name: String,
    /// The keys of the submitted stages it reads (their jobs come first).
    pub upstream: Vec<StageKey>,
    /// The stage's log, where the job's output goes.
    pub log: PathBuf,
    /// Where its batch script is written.
    pub script: PathBuf,
    /// What it asks for.
    pub resources: Resources,
}

/// What a run would do: the stages already cached and the jobs to submit,
/// upstream first.
#[derive(Debug, Clone)]
pub struct SubmissionPlan {
    /// Stages whose entries are in the cache, whole.
    pub cached: Vec<StageKey>,
    /// Stages to submit, in plan order.
    pub jobs: Vec<PlannedJob>,
    /// Absolute places every job uses.
    paths: JobPaths,
}

/// The absolute paths every job sees.
#[derive(Debug, Clone)]
struct JobPaths {
    program: PathBuf,
    plan_file: PathBuf,
    cache: PathBuf,
    logs: PathBuf,
    working_directory: PathBuf,
}

impl SlurmExecutor {
    /// Sorts `selected` into cached stages and jobs to submit; creates
    /// nothing.
    pub fn prepare(
        &self,
        plan: &Plan,
        selected: &[&Stage],
        places: &Places<'_>,
    ) -> Result<SubmissionPlan, SlurmError> {
        let cache_root = places.target.root();
        let paths = JobPaths {
            program: absolute(&self.program)?,
            plan_file: absolute(&self.plan_file)?,
            cache: absolute(cache_root)?,
            logs: absolute(places.logs)?,
            working_directory: absolute(&self.working_directory)?,
        };
        let wanted: BTreeSet<&StageKey> = selected.iter().map(|stage| &stage.key).collect();
        let mut cached = Vec::new();
        let mut jobs: Vec<PlannedJob> = Vec::new();
        for stage in plan
            .stages
            .iter()
            .filter(|stage| wanted.contains(&stage.key))
        {
            let whole = places.target.intact(&stage.key)?.is_some();
            if whole {
                cached.push(stage.key.clone());
                continue;
            }
            let upstream = stage
                .upstream
                .values()
                .filter(|key| jobs.iter().any(|job| &job.key == *key))
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let log_name = log_file_name(stage);
            let script_name = format!("{}.sbatch", log_name.trim_end_matches(".log"));
            jobs.push(PlannedJob {
                key: stage.key.clone(),
                name: stage.name.clone(),
                upstream,
                log: paths.logs.join(log_name),
                script: paths.logs.join(script_name),
                resources: self.options.resources.for_stage(stage),
            });
        }
        Ok(SubmissionPlan {
            cached,
            jobs,
            paths,
        })
    }

    /// The batch script of `job`, waiting for `dependencies`.
    pub fn script(
        &self,
        plan: &Plan,
        submission: &SubmissionPlan,
        job: &PlannedJob,
        dependencies: &[String],
    ) -> Option<String> {
        let stage = plan.stage(&job.key)?;
        let paths = &submission.paths;
        Some(
            JobScript {
                stage,
                experiment: &plan.experiment,
                program: &paths.program,
                plan_file: &paths.plan_file,
                cache: &paths.cache,
                logs: &paths.logs,
                log: &job.log,
                working_directory: &paths.working_directory,
                resources: job.resources,
                partition: self.options.partition.as_deref(),
                dependencies,
                extra_arguments: &self.options.extra_arguments,
            }
            .render(),
        )
    }

    /// The scripts a run would submit, each after a comment naming its
    /// stage; an upstream job's id is shown as `<stage name>`.
    pub fn dry_run(
        &self,
        plan: &Plan,
        selected: &[&Stage],
        places: &Places<'_>,
    ) -> Result<(SubmissionPlan, String), SlurmError> {
        let submission = self.prepare(plan, selected, places)?;
        let mut text = String::new();
        for job in &submission.jobs {
            let dependencies: Vec<String> = job
                .upstream
                .iter()
                .map(|key| {
                    let name = plan.stage(key).map_or(key.short(), |stage| &stage.name);
                    format!("<{name}>")
                })
                .collect();
            if let Some(script) = self.script(plan, &submission, job, &dependencies) {
                text.push_str(&format!(
                    "# ---- stage `{}`: {}\n{script}\n",
                    job.name,
                    job.script.display()
                ));
            }
        }
        Ok((submission, text))
    }

    /// Submits every job of `submission`, upstream first. A job whose
    /// upstream job could not be submitted is not submitted.
    fn submit(
        &self,
        plan: &Plan,
        submission: &SubmissionPlan,
        print: &dyn Fn(&str),
    ) -> Result<Submitted, SlurmError> {
        let mut submitted: BTreeMap<StageKey, JobId> = BTreeMap::new();
        let mut submitted_at: BTreeMap<StageKey, Instant> = BTreeMap::new();
        let mut outcomes: BTreeMap<StageKey, Outcome> = BTreeMap::new();
        for job in &submission.jobs {
            if let Some(failed) = job.upstream.iter().find(|key| outcomes.contains_key(*key)) {
                let because = name_of(plan, failed);
                print(&format!("skipped  {} (`{because}` failed)", job.name));
                outcomes.insert(job.key.clone(), Outcome::Skipped { because });
                continue;
            }
            let dependencies: Vec<String> = job
                .upstream
                .iter()
                .filter_map(|key| submitted.get(key).map(|id| id.0.clone()))
                .collect();
            let Some(script) = self.script(plan, submission, job, &dependencies) else {
                continue;
            };
            fs::write(&job.script, script).map_err(io("write", &job.script))?;
            match self.client.submit(&job.script) {
                Ok(id) => {
                    print(&format!("submitted {} as job {id}", job.name));
                    submitted.insert(job.key.clone(), id);
                    submitted_at.insert(job.key.clone(), Instant::now());
                }
                Err(error @ SlurmError::Spawn { .. }) => {
                    // No Slurm at all: nothing else can be submitted either.
                    self.client
                        .cancel(&submitted.values().cloned().collect::<Vec<_>>());
                    return Err(error);
                }
                Err(error) => {
                    print(&format!("failed   {}: {error}", job.name));
                    outcomes.insert(
                        job.key.clone(),
                        Outcome::Failed {
                            message: error.to_string(),
                            log: job.log.clone(),
                        },
                    );
                }
            }
        }
        Ok(Submitted {
            jobs: submitted,
            submitted_at,
            unsubmitted: outcomes,
        })
    }

    /// Follows `submitted` jobs until each has ended; adds their outcomes.
    fn follow(
        &self,
        plan: &Plan,
        submission: &SubmissionPlan,
        submitted: &Submitted,
        outcomes: &mut BTreeMap<StageKey, Outcome>,
        bar: &ProgressBar,
        print: &dyn Fn(&str),
    ) -> Result<(), SlurmError> {
        let start = Instant::now();
        let submitted_at = &submitted.submitted_at;
        let submitted = &submitted.jobs;
        let mut started: BTreeMap<StageKey, Instant> = BTreeMap::new();
        let mut unknown_since: BTreeMap<StageKey, Instant> = BTreeMap::new();
        let mut unanswered_since: Option<Instant> = None;
        loop {
            let open: Vec<&PlannedJob> = submission
                .jobs
                .iter()
                .filter(|job| submitted.contains_key(&job.key) && !outcomes.contains_key(&job.key))
                .collect();
            if open.is_empty() {
                return Ok(());
            }
            let ids: Vec<JobId> = open
                .iter()
                .filter_map(|job| submitted.get(&job.key).cloned())
                .collect();
            let states = match self.client.states(&ids) {
                Ok(states) => {
                    unanswered_since = None;
                    states
                }
                Err(error @ SlurmError::Command { .. }) => {
                    // The controller may be restarting: try again, for a while.
                    let since = *unanswered_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > UNANSWERED_LIMIT {
                        return Err(error);
                    }
                    std::thread::sleep(self.options.poll_interval);
                    continue;
                }
                Err(error) => return Err(error),
            };
            let (mut running, mut waiting) = (0, 0);
            // Plan order: an upstream job's end is seen before its dependants'.
            for job in open {
                let Some(id) = submitted.get(&job.key) else {
                    continue;
                };
                let Some(state) = states.get(id) else {
                    // Slurm forgot the job (no accounting, and it left squeue).
                    let since = *unknown_since
                        .entry(job.key.clone())
                        .or_insert_with(Instant::now);
                    if since.elapsed() > FORGOTTEN_LIMIT {
                        let outcome = Outcome::Failed {
                            message: format!(
                                "slurm no longer knows job {id} and did not say how it ended"
                            ),
                            log: job.log.clone(),
                        };
                        report_end(job, &outcome, print);
                        outcomes.insert(job.key.clone(), outcome);
                        bar.inc(1);
                    }
                    continue;
                };
                unknown_since.remove(&job.key);
                match state {
                    JobState::Waiting { .. } => waiting += 1,
                    JobState::Running => {
                        running += 1;
                        started.entry(job.key.clone()).or_insert_with(Instant::now);
                    }
                    final_state => {
                        if matches!(final_state, JobState::DependencyNeverSatisfied) {
                            // The cluster left it pending: it would wait forever.
                            self.client.cancel(std::slice::from_ref(id));
                        }
                        // Seen running, else since its submission: a short job
                        // may start and end between two looks.
                        let since = started
                            .get(&job.key)
                            .or_else(|| submitted_at.get(&job.key))
                            .copied()
                            .unwrap_or(start);
                        let outcome = outcome_of(plan, job, id, final_state, since, outcomes);
                        report_end(job, &outcome, print);
                        outcomes.insert(job.key.clone(), outcome);
                        bar.inc(1);
                    }
                }
            }
            bar.set_message(format!("{running} running, {waiting} waiting"));
            std::thread::sleep(self.options.poll_interval);
        }
    }
}

impl Executor for SlurmExecutor {
    fn run(
        &self,
        plan: &Plan,
        selected: &[&Stage],
        places: &Places<'_>,
    ) -> Result<RunReport, ExecutorError> {
        let submission = self.prepare(plan, selected, places)?;
        // Jobs write their logs and entries there: the folders must exist
        // before the first job starts.
        for folder in [&submission.paths.cache, &submission.paths.logs] {
            fs::create_dir_all(folder).map_err(io("create", folder))?;
        }
        let bar = ProgressBar::with_draw_target(
            Some(submission.jobs.len() as u64),
            if self.show_progress {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:.bold} [{bar:30}] {pos}/{len} jobs ended, {msg} ({elapsed})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix("slurm");
        let show_progress = self.show_progress;
        let print_bar = bar.clone();
        let print = move |line: &str| {
            if show_progress {
                print_bar.println(line);
            } else {
                eprintln!("{line}");
            }
        };
        let mut outcomes: BTreeMap<StageKey, Outcome> = BTreeMap::new();
        for key in &submission.cached {
            print(&format!("cached   {}", name_of(plan, key)));
            outcomes.insert(key.clone(), Outcome::Cached);
        }
        let submitted = self.submit(plan, &submission, &print)?;
        bar.inc(submitted.unsubmitted.len() as u64);
        outcomes.extend(submitted.unsubmitted.clone());
        self.follow(plan, &submission, &submitted, &mut outcomes, &bar, &print)?;
        bar.finish_and_clear();
        Ok(RunReport::in_order(&plan.stages, &mut outcomes))
    }
}

/// The jobs submitted, and the stages that never got one.
#[derive(Debug, Default)]
struct Submitted {
    /// The job of each submitted stage.
    jobs: BTreeMap<StageKey, JobId>,
    /// When each was submitted.
    submitted_at: BTreeMap<StageKey, Instant>,
    /// The outcomes of stages not submitted (sbatch refused them, or an
    /// upstream stage's).
    unsubmitted: BTreeMap<StageKey, Outcome>,
}

/// What a job's final state means for its stage.
fn outcome_of(
    plan: &Plan,
    job: &PlannedJob,
    id: &JobId,
    state: &JobState,
    since: Instant,
    outcomes: &BTreeMap<StageKey, Outcome>,
) -> Outcome {
    let failed_upstream = job.upstream.iter().find(|key| {
        matches!(
            outcomes.get(*key),
            Some(Outcome::Failed { .. } | Outcome::Skipped { .. })
        )
    });
    match (state, failed_upstream) {
        (JobState::Completed, _) => Outcome::Computed(since.elapsed()),
        (JobState::Cancelled { .. } | JobState::DependencyNeverSatisfied, Some(failed)) => {
            Outcome::Skipped {
                because: name_of(plan, failed),
            }
        }
        (JobState::Cancelled { reason }, None) => Outcome::Failed {
            message: if reason.is_empty() || reason == "None" {
                format!("slurm job {id} was cancelled")
            } else {
                format!("slurm job {id} was cancelled ({reason})")
            },
            log: job.log.clone(),
        },
        (JobState::Failed { state, exit_code }, _) => {
            let mut message = format!("slurm job {id} ended {state}");
            if let Some(code) = exit_code {
                message.push_str(&format!(" (exit code {code})"));
            }
            if let Some(error) = last_error(&job.log) {
                message.push_str(": ");
                message.push_str(&error);
            }
            Outcome::Failed {
                message,
                log: job.log.clone(),
            }
        }
        (other, _) => Outcome::Failed {
            message: format!("slurm job {id} ended as {other:?}"),
            log: job.log.clone(),
        },
    }
}

/// Prints the line of a stage that ended, as the local executor does.
fn report_end(job: &PlannedJob, outcome: &Outcome, print: &dyn Fn(&str)) {
    let line = match outcome {
        Outcome::Cached => format!("cached   {}", job.name),
        Outcome::Computed(duration) => {
            format!("ran      {} ({:.1} s)", job.name, duration.as_secs_f64())
        }
        Outcome::Failed { message, .. } => format!("failed   {}: {message}", job.name),
        Outcome::Skipped { because } => format!("skipped  {} (`{because}` failed)", job.name),
    };
    print(&line);
}

/// The last `error: ...` line of a log, without the prefix.
fn last_error(log: &Path) -> Option<String> {
    let text = fs::read_to_string(log).ok()?;
    text.lines()
        .rev()
        .find_map(|line| line.strip_prefix("error: "))
        .map(str::to_string)
}

/// The name of the stage with `key`.
fn name_of(plan: &Plan, key: &StageKey) -> String {
    plan.stage(key)
        .map_or_else(|| key.short().to_string(), |stage| stage.name.clone())
}

/// `path`, absolute (resolved against the current folder if relative).
fn absolute(path: &Path) -> Result<PathBuf, SlurmError> {
    std::path::absolute(path).map_err(io("resolve", path))
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SlurmError + 'a {
    move |source| SlurmError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::StageKind;

    fn stage(name: &str, key: &str, upstream: &[&str]) -> Stage {
        Stage {
            name: name.to_string(),
            kind: StageKind::Data,
            key: StageKey(key.to_string()),
            parameters: serde_json::Value::Null,
            settings: serde_json::Value::Null,
            upstream: upstream
                .iter()
                .enumerate()
                .map(|(index, key)| (format!("role.{index}"), StageKey(key.to_string())))
                .collect(),
            inputs: BTreeMap::new(),
        }
    }

    fn job(stage: &Stage, log: &Path) -> PlannedJob {
        PlannedJob {
            key: stage.key.clone(),
            name: stage.name.clone(),
            upstream: stage.upstream.values().cloned().collect(),
            log: log.to_path_buf(),
            script: log.with_extension("sbatch"),
            resources: Resources::default_for(stage.kind),
        }
    }

    #[test]
    fn final_states_become_outcomes() {
        let folder = tempfile::tempdir().unwrap();
        let log = folder.path().join("b.log");
        std::fs::write(
            &log,
            "step 1\nerror: stage `b` failed: loss is NaN at step 3\n",
        )
        .unwrap();
        let plan = Plan {
            experiment: "e".to_string(),
            stages: vec![stage("a", "aa", &[]), stage("b", "bb", &["aa"])],
        };
        let b = job(&plan.stages[1], &log);
        let id = JobId("7".to_string());
        let now = Instant::now();
        let nothing_failed = BTreeMap::new();
        let a_failed = BTreeMap::from([(
            StageKey("aa".to_string()),
            Outcome::Failed {
                message: String::new(),
                log: PathBuf::new(),
            },
        )]);

        let completed = outcome_of(&plan, &b, &id, &JobState::Completed, now, &nothing_failed);
        assert!(matches!(completed, Outcome::Computed(_)));

        let failed = JobState::Failed {
            state: "FAILED".to_string(),
            exit_code: Some("1:0".to_string()),
        };
        match outcome_of(&plan, &b, &id, &failed, now, &nothing_failed) {
            Outcome::Failed { message, log: path } => {
                assert_eq!(
                    message,
                    "slurm job 7 ended FAILED (exit code 1:0): stage `b` failed: loss is NaN at step 3"
                );
                assert_eq!(path, log);
            }
            other => panic!("{other:?}"),
        }

        let cancelled = JobState::Cancelled {
            reason: "DependencyNeverSatisfied".to_string(),
        };
        match outcome_of(&plan, &b, &id, &cancelled, now, &a_failed) {
            Outcome::Skipped { because } => assert_eq!(because, "a"),
            other => panic!("{other:?}"),
        }
        match outcome_of(
            &plan,
            &b,
            &id,
            &JobState::DependencyNeverSatisfied,
            now,
            &a_failed,
        ) {
            Outcome::Skipped { because } => assert_eq!(because, "a"),
            other => panic!("{other:?}"),
        }
        // Cancelled with nothing upstream failed: someone cancelled it.
        let by_hand = JobState::Cancelled {
            reason: "None".to_string(),
        };
        match outcome_of(&plan, &b, &id, &by_hand, now, &nothing_failed) {
            Outcome::Failed { message, .. } => assert_eq!(message, "slurm job 7 was cancelled"),
            other => panic!("{other:?}"),
        }
    }
}
