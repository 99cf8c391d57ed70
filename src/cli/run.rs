//! `echolab run`, `echolab exec-stage` and `echolab verify`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{color_stderr, load_plan};
use crate::lockfile::{changes, Lockfile, Provenance};
use crate::plan::{Plan, Stage};
use crate::runtime::slurm::{SlurmClient, SlurmExecutor, SlurmOptions};
use crate::runtime::{
    damage_text, execute, on_threads, Cache, Executor, LocalExecutor, Lookup, Outcome, Places,
    PlanFile, Project,
};

/// Where `echolab run` runs the stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum ExecutorKind {
    /// In this process, `--jobs` at a time.
    Local,
    /// One Slurm batch job per stage, on a shared cache.
    Slurm,
}

/// Options of `echolab run`.
pub(super) struct RunOptions {
    pub stage: Option<String>,
    pub jobs: usize,
    pub locked: bool,
    pub frozen: bool,
    pub cache: Option<PathBuf>,
    pub executor: ExecutorKind,
    pub partition: Option<String>,
    pub slurm_arguments: Vec<String>,
    pub resources: Vec<String>,
    pub dry_run: bool,
}

/// The Slurm executor `options` describe, for a run of the plan saved at
/// `plan_file`.
fn slurm_executor(
    options: &RunOptions,
    plan_file: &Path,
    project: &Project,
) -> anyhow::Result<SlurmExecutor> {
    let mut slurm = SlurmOptions {
        partition: options.partition.clone(),
        extra_arguments: options.slurm_arguments.clone(),
        ..SlurmOptions::default()
    };
    for text in &options.resources {
        slurm.resources.apply(text)?;
    }
    Ok(SlurmExecutor {
        options: slurm,
        program: std::env::current_exe()?,
        plan_file: plan_file.to_path_buf(),
        working_directory: project.root.clone(),
        show_progress: color_stderr(),
        client: SlurmClient,
    })
}

/// The stages `name` selects (with everything they read), or every stage.
fn select<'a>(plan: &'a Plan, name: Option<&str>) -> anyhow::Result<Vec<&'a Stage>> {
    let Some(name) = name else {
        return Ok(plan.stages.iter().collect());
    };
    let selected = plan.selection(name);
    if selected.is_empty() {
        let names: Vec<&str> = plan
            .stages
            .iter()
            .map(|stage| stage.name.as_str())
            .collect();
        let hint = crate::diagnostic::did_you_mean(name, names.iter().copied())
            .unwrap_or_else(|| format!("the stages are: {}", names.join(", ")));
        anyhow::bail!("no stage `{name}`; {hint}");
    }
    Ok(selected)
}

pub(super) fn run(file: &Path, options: RunOptions) -> anyhow::Result<ExitCode> {
    if options.executor == ExecutorKind::Local
        && (options.partition.is_some()
            || !options.slurm_arguments.is_empty()
            || !options.resources.is_empty()
            || options.dry_run)
    {
        anyhow::bail!(
            "`--partition`, `--slurm-arg`, `--resources` and `--dry-run` need `--executor slurm`"
        );
    }
    let Some((_, plan)) = load_plan(file)? else {
        return Ok(ExitCode::from(1));
    };
    let project = Project::locate(file, options.cache.as_deref());
    let lock_path = project.lockfile(&plan.experiment);
    let previous = Lockfile::read(&lock_path)?;
    if options.locked || options.frozen {
        let flag = if options.frozen {
            "--frozen"
        } else {
            "--locked"
        };
        let Some(lock) = &previous else {
            eprintln!(
                "error: there is no lockfile `{}` ({flag}); run `echolab lock {}`",
                lock_path.display(),
                file.display()
            );
            return Ok(ExitCode::from(1));
        };
        let found = changes(lock, &plan);
        if !found.is_empty() {
            eprintln!(
                "error: the lockfile `{}` needs to be updated ({flag}):",
                lock_path.display()
            );
            for change in found {
                eprintln!("  {change}");
            }
            return Ok(ExitCode::from(1));
        }
    }
    let selected = select(&plan, options.stage.as_deref())?;
    let experiment_directory = super::experiment_directory(file);
    let plan_file = project.plan_file(&plan.experiment);
    PlanFile {
        experiment_directory: experiment_directory
            .canonicalize()
            .unwrap_or(experiment_directory.clone()),
        plan: plan.clone(),
    }
    .write(&plan_file)?;
    let logs = project.logs(&plan.experiment);
    let places = Places {
        upstream: &project.cache,
        target: &project.cache,
        experiment_directory: &experiment_directory,
        logs: &logs,
    };
    let executor: Box<dyn Executor> = match options.executor {
        ExecutorKind::Local => Box::new(LocalExecutor {
            jobs: options.jobs,
            show_progress: color_stderr(),
        }),
        ExecutorKind::Slurm => {
            let slurm = slurm_executor(&options, &plan_file, &project)?;
            if options.dry_run {
                let (submission, scripts) = slurm.dry_run(&plan, &selected, &places)?;
                print!("{scripts}");
                eprintln!(
                    "dry run: {} cached, {} jobs would be submitted",
                    submission.cached.len(),
                    submission.jobs.len()
                );
                return Ok(ExitCode::SUCCESS);
            }
            Box::new(slurm)
        }
    };
    let report = executor.run(&plan, &selected, &places)?;
    let mut next =
        Lockfile::from_plan(&plan, Provenance::current(&project.root), previous.as_ref());
    let mut not_reproduced = Vec::new();
    let mut unrecorded = Vec::new();
    for stage in &plan.stages {
        // Only an intact entry's digests may reach the lockfile.
        let Some(entry) = project.cache.intact(&stage.key)? else {
            continue;
        };
        let outputs: BTreeMap<String, String> = entry
            .manifest
            .artifacts
            .iter()
            .map(|(name, digest)| (name.clone(), digest.blake3.clone()))
            .collect();
        let Some(record) = next.stages.get_mut(&stage.name) else {
            continue;
        };
        if record.outputs.is_empty() {
            unrecorded.push(stage.name.clone());
            record.outputs = outputs;
        } else if record.outputs != outputs {
            let differing = record
                .outputs
                .iter()
                .find(|(name, digest)| outputs.get(*name) != Some(digest))
                .map(|(name, digest)| {
                    format!(
                        "`{name}` blake3 {}.. -> {}..",
                        &digest[..digest.len().min(6)],
                        outputs
                            .get(name)
                            .map_or("missing", |d| &d[..d.len().min(6)])
                    )
                });
            not_reproduced.push(format!(
                "stage `{}` did not reproduce its recorded outputs: {}; `echolab verify {} --stage {}` recomputes it to tell which is right",
                stage.name,
                differing.unwrap_or_else(|| "an artifact was added".to_string()),
                file.display(),
                stage.name
            ));
        }
    }
    let ran = report.computed().len();
    let cached = report
        .stages
        .iter()
        .filter(|(_, _, outcome)| matches!(outcome, Outcome::Cached))
        .count();
    let mut failed = false;
    for (name, _, outcome) in &report.stages {
        match outcome {
            Outcome::Failed { message, log } => {
                failed = true;
                eprintln!(
                    "error: stage `{name}` failed: {message}\n  log: {}",
                    log.display()
                );
            }
            Outcome::Skipped { because } => {
                eprintln!("error: stage `{name}` did not run: `{because}` failed")
            }
            _ => {}
        }
    }
    for line in &not_reproduced {
        eprintln!("error: {line}");
    }
    if options.frozen && !unrecorded.is_empty() {
        eprintln!(
            "error: --frozen, but the lockfile records no outputs for: {}",
            unrecorded.join(", ")
        );
        failed = true;
    }
    if !options.frozen
        && not_reproduced.is_empty()
        && previous
            .as_ref()
            .is_none_or(|lock| !lock.same_content(&next))
    {
        next.write(&lock_path)?;
    }
    eprintln!(
        "{ran} ran, {cached} cached, {} failed",
        report
            .stages
            .iter()
            .filter(|(_, _, o)| matches!(o, Outcome::Failed { .. } | Outcome::Skipped { .. }))
            .count()
    );
    Ok(if failed || report.failed() || !not_reproduced.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs one stage of a saved plan (what a cluster job does).
pub(super) fn exec_stage(
    plan_path: &Path,
    key: &str,
    cache: Option<&Path>,
    logs: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let plan_file = PlanFile::read(plan_path)?;
    let plan = &plan_file.plan;
    let Some(stage) = plan
        .stages
        .iter()
        .find(|stage| stage.key.0 == key || stage.name == key)
    else {
        anyhow::bail!(
            "no stage with key or name `{key}` in `{}`",
            plan_path.display()
        );
    };
    let cache = match cache {
        Some(path) => Cache::new(path),
        None => {
            Project::locate(
                &plan_file.experiment_directory.join("experiment.echo"),
                None,
            )
            .cache
        }
    };
    let logs = logs.map_or_else(|| cache.root().join("logs"), Path::to_path_buf);
    let places = Places {
        upstream: &cache,
        target: &cache,
        experiment_directory: &plan_file.experiment_directory,
        logs: &logs,
    };
    let threads = rayon::current_num_threads();
    match on_threads(threads, || {
        execute(stage, plan, &places, Box::new(|_, _, _| {}))
    }) {
        Ok(execution) => {
            eprintln!(
                "{} {}",
                match &execution {
                    crate::runtime::Execution::Cached(_) => "cached".to_string(),
                    crate::runtime::Execution::Computed(_) => "ran".to_string(),
                    crate::runtime::Execution::Repaired { damage, .. } => format!(
                        "ran (the cached entry was damaged: {})",
                        damage_text(damage)
                    ),
                },
                stage.name
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("error: stage `{}` failed: {error}", stage.name);
            Ok(ExitCode::from(1))
        }
    }
}

/// Recomputes cached stages in a scratch cache and compares every artifact.
pub(super) fn verify(
    file: &Path,
    stage: Option<&str>,
    cache: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let Some((_, plan)) = load_plan(file)? else {
        return Ok(ExitCode::from(1));
    };
    let project = Project::locate(file, cache);
    let lock = Lockfile::read(&project.lockfile(&plan.experiment))?;
    let selected: Vec<&Stage> = match stage {
        Some(name) => select(&plan, Some(name))?
            .into_iter()
            .filter(|candidate| {
                candidate.name == name
                    || candidate.name.starts_with(&format!("{name}["))
                    || candidate.name.starts_with(&format!("{name}#"))
            })
            .collect(),
        None => plan.stages.iter().collect(),
    };
    let scratch_root = tempfile::Builder::new()
        .prefix("echolab-verify-")
        .tempdir()?;
    let scratch = Cache::new(scratch_root.path());
    let experiment_directory = super::experiment_directory(file);
    let logs = scratch_root.path().join("logs");
    let places = Places {
        upstream: &project.cache,
        target: &scratch,
        experiment_directory: &experiment_directory,
        logs: &logs,
    };
    let mut failed = false;
    for stage in selected {
        // The bytes on disk, not only the manifest, are what is verified.
        let recorded = match project.cache.inspect(&stage.key)? {
            Lookup::Intact(entry) => entry,
            Lookup::Absent => {
                eprintln!("not cached  {} (run it first)", stage.name);
                failed = true;
                continue;
            }
            Lookup::Damaged { damage, .. } => {
                eprintln!(
                    "DAMAGED     {}: {} (`echolab run` recomputes it)",
                    stage.name,
                    damage_text(&damage)
                );
                failed = true;
                continue;
            }
        };
        let threads = rayon::current_num_threads();
        let recomputed = match on_threads(threads, || {
            execute(stage, &plan, &places, Box::new(|_, _, _| {}))
        }) {
            Ok(execution) => execution.entry().clone(),
            Err(error) => {
                eprintln!("failed      {}: {error}", stage.name);
                failed = true;
                continue;
            }
        };
        let locked_outputs = lock
            .as_ref()
            .and_then(|lock| lock.stages.get(&stage.name))
            .map(|record| record.outputs.clone())
            .unwrap_or_default();
        let mut difference = None;
        for (name, digest) in &recorded.manifest.artifacts {
            let again = recomputed.manifest.artifacts.get(name);
            let locked = locked_outputs.get(name);
            if again.map(|d| &d.blake3) != Some(&digest.blake3)
                || locked.is_some_and(|l| l != &digest.blake3)
            {
                let detail = if name.ends_with(".safetensors") {
                    first_differing_tensor(&recorded.artifact(name), &recomputed.artifact(name))
                        .map(|tensor| format!(", first at tensor `{tensor}`"))
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                difference = Some(format!("artifact `{name}` differs{detail}"));
                break;
            }
        }
        if difference.is_none()
            && recomputed.manifest.artifacts.len() != recorded.manifest.artifacts.len()
        {
            difference = Some("the recomputed stage has a different set of artifacts".to_string());
        }
        match difference {
            Some(difference) => {
                failed = true;
                eprintln!("DIFFERS     {}: {difference}", stage.name);
            }
            None => eprintln!(
                "identical   {} ({} artifacts)",
                stage.name,
                recorded.manifest.artifacts.len()
            ),
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The name of the first tensor whose bytes differ between two safetensors files.
fn first_differing_tensor(a: &Path, b: &Path) -> Option<String> {
    let first = std::fs::read(a).ok()?;
    let second = std::fs::read(b).ok()?;
    let first = safetensors::SafeTensors::deserialize(&first).ok()?;
    let second = safetensors::SafeTensors::deserialize(&second).ok()?;
    let mut names: Vec<String> = first.names().into_iter().map(str::to_string).collect();
    names.sort();
    names
        .into_iter()
        .find(|name| match (first.tensor(name), second.tensor(name)) {
            (Ok(x), Ok(y)) => x.data() != y.data() || x.shape() != y.shape(),
            _ => true,
        })
}
