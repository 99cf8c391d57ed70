//! `echolab lock`, `echolab status`, `echolab explain`: the lockfile and
//! what would run.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use super::load_plan;
use crate::lockfile::{changes, Lockfile, Provenance};
use crate::plan::{Plan, Stage};
use crate::runtime::{plan_status, stage_status, Freshness, Project};

/// Writes (or with `locked`, checks) the lockfile of `file`.
pub(super) fn lock(file: &Path, locked: bool, cache: Option<&Path>) -> anyhow::Result<ExitCode> {
    let Some((_, plan)) = load_plan(file)? else {
        return Ok(ExitCode::from(1));
    };
    let project = Project::locate(file, cache);
    let path = project.lockfile(&plan.experiment);
    let previous = Lockfile::read(&path)?;
    let next = Lockfile::from_plan(&plan, Provenance::current(&project.root), previous.as_ref());
    if let Some(previous) = &previous {
        if previous.same_content(&next) {
            eprintln!("{}: up to date", path.display());
            return Ok(ExitCode::SUCCESS);
        }
        if locked {
            eprintln!(
                "error: the lockfile `{}` needs to be updated:",
                path.display()
            );
            for change in changes(previous, &plan) {
                eprintln!("  {change}");
            }
            return Ok(ExitCode::from(1));
        }
    } else if locked {
        eprintln!(
            "error: there is no lockfile `{}`; run `echolab lock {}`",
            path.display(),
            file.display()
        );
        return Ok(ExitCode::from(1));
    }
    next.write(&path)?;
    eprintln!("wrote {} ({} stages)", path.display(), plan.stages.len());
    Ok(ExitCode::SUCCESS)
}

/// Prints every stage as fresh, cached or stale, with reasons.
pub(super) fn status(file: &Path, cache: Option<&Path>) -> anyhow::Result<ExitCode> {
    let Some((_, plan)) = load_plan(file)? else {
        return Ok(ExitCode::from(1));
    };
    let project = Project::locate(file, cache);
    let lock = Lockfile::read(&project.lockfile(&plan.experiment))?;
    let statuses = plan_status(&plan, lock.as_ref(), &project.cache)?;
    print!("{}", render_status(&statuses));
    Ok(ExitCode::SUCCESS)
}

/// The status table: `stale  rl  tuned[kl=...]` and the reasons below.
pub(crate) fn render_status(statuses: &[(&crate::plan::Stage, Freshness)]) -> String {
    let mut out = String::new();
    for (stage, freshness) in statuses {
        out.push_str(&format!(
            "{:<7} {:<9} {}\n",
            freshness.word(),
            stage.kind.name(),
            stage.name
        ));
        if let Freshness::Stale(reasons) = freshness {
            for reason in reasons {
                out.push_str(&format!("{:<17} {reason}\n", ""));
            }
        }
    }
    out
}

/// A definition with more stages than this is listed, one line a stage
/// with the command that explains it, instead of explained stage by stage.
const MOST_EXPLAINED_POINTS: usize = 3;

/// Prints one stage in full; for the name of a definition with several
/// stages (sweep points, replicates), each of them, or with many, a list
/// of them with the command that explains each.
pub(super) fn explain(
    file: &Path,
    stage_name: &str,
    cache: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let Some((_, plan)) = load_plan(file)? else {
        return Ok(ExitCode::from(1));
    };
    let stages: Vec<&Stage> = match plan.named(stage_name) {
        Some(stage) => vec![stage],
        None => plan.points_of(stage_name),
    };
    if stages.is_empty() {
        let names: Vec<&str> = plan
            .stages
            .iter()
            .map(|stage| stage.name.as_str())
            .collect();
        let hint = crate::diagnostic::did_you_mean(stage_name, names.iter().copied())
            .unwrap_or_else(|| format!("the stages are: {}", names.join(", ")));
        anyhow::bail!("no stage `{stage_name}` in `{}`; {hint}", file.display());
    }
    let project = Project::locate(file, cache);
    let lock = Lockfile::read(&project.lockfile(&plan.experiment))?;
    if stages.len() > 1 {
        println!(
            "`{stage_name}` is a definition with {} stages:",
            stages.len()
        );
        for stage in &stages {
            let freshness = stage_status(stage, &plan, lock.as_ref(), &project.cache)?;
            println!("  {:<7} {}", freshness.word(), stage.name);
        }
        if stages.len() > MOST_EXPLAINED_POINTS {
            println!("explain one with:");
            for stage in &stages {
                println!("  echolab explain {} '{}'", file.display(), stage.name);
            }
            return Ok(ExitCode::SUCCESS);
        }
    }
    for (index, stage) in stages.iter().enumerate() {
        if index > 0 || stages.len() > 1 {
            println!();
        }
        explain_stage(stage, &plan, &project, lock.as_ref())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints one stage in full: kind, key, status, upstream, inputs,
/// parameters and, when cached, its outputs.
fn explain_stage(
    stage: &Stage,
    plan: &Plan,
    project: &Project,
    lock: Option<&Lockfile>,
) -> anyhow::Result<()> {
    let freshness = stage_status(stage, plan, lock, &project.cache)?;
    println!("stage      {}", stage.name);
    println!(
        "kind       {} (semantics version {})",
        stage.kind,
        stage.kind.semantics_version()
    );
    println!("key        {}", stage.key);
    println!("status     {}", freshness.word());
    if let Freshness::Stale(reasons) = &freshness {
        for reason in reasons {
            println!("           {reason}");
        }
    }
    if !stage.upstream.is_empty() {
        println!("upstream");
        for (role, key) in &stage.upstream {
            let name = plan
                .stage(key)
                .map_or("?", |upstream| upstream.name.as_str());
            println!("  {role:<12} {name} ({})", key.short());
        }
    }
    if !stage.inputs.is_empty() {
        println!("inputs");
        for (path, digest) in &stage.inputs {
            println!("  {path}  blake3 {}  {} bytes", digest.blake3, digest.size);
        }
    }
    println!("parameters");
    let parameters =
        serde_json::to_string_pretty(&stage.parameters).context("cannot print parameters")?;
    for line in parameters.lines() {
        println!("  {line}");
    }
    if let Some(entry) = project.cache.get(&stage.key)? {
        println!("outputs    {}", entry.path.display());
        for (artifact, digest) in &entry.manifest.artifacts {
            println!(
                "  {artifact}  blake3 {}  {} bytes",
                digest.blake3, digest.size
            );
        }
    }
    Ok(())
}
