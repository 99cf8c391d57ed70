//! `echolab report FILE`: publishes an experiment's cached report as
//! `reports/<experiment>/` (or `--out DIR`): the charts and `metrics.csv`
//! copied from the cache, and `report.html` with the run table filled in.
//!
//! With `--partial`, a report stage that is not cached yet is drawn here
//! from the evaluations that are (the same code as the stage), the page
//! naming the ones left out; nothing of it goes into the cache.
//!
//! The cached page is a pure function of the report stage's inputs; what
//! this command adds (every stage of the plan, whether it is cached, the
//! lockfile's provenance and the durations recorded beside the logs) varies
//! between runs, so it lives only in the published copy.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use super::load_plan;
use crate::lockfile::{Lockfile, Provenance};
use crate::plan::{Plan, Stage, StageKind};
use crate::report::{insert_run_table, RunTable, RunTableRow, RUN_TABLE_MARKER};
use crate::runtime::stages::{build_report, StageError};
use crate::runtime::{Project, StageTiming};

/// Writes the published report of `file`'s report stages.
pub(super) fn run(
    file: &Path,
    out: Option<&Path>,
    cache: Option<&Path>,
    partial: bool,
) -> anyhow::Result<ExitCode> {
    let Some((_, plan)) = load_plan(file)? else {
        return Ok(ExitCode::from(1));
    };
    let project = Project::locate(file, cache);
    let reports: Vec<_> = plan
        .stages
        .iter()
        .filter(|stage| stage.kind == StageKind::Report)
        .collect();
    if reports.is_empty() {
        eprintln!(
            "error: experiment `{}` has no `report` block",
            plan.experiment
        );
        return Ok(ExitCode::from(1));
    }
    let base = out.map_or_else(
        || project.root.join("reports").join(&plan.experiment),
        Path::to_path_buf,
    );
    let table = run_table(&plan, &project)?;
    let mut failed = false;
    for stage in &reports {
        let folder: PathBuf = if reports.len() > 1 {
            base.join(&stage.name)
        } else {
            base.clone()
        };
        let Some(entry) = project.cache.get(&stage.key)? else {
            if partial {
                if !publish_partial(stage, &plan, &project, &folder, &table)? {
                    failed = true;
                }
                continue;
            }
            eprintln!(
                "error: report `{}` is not in the cache: run `echolab run {} --stage {}` first, or draw what is cached with `--partial`",
                stage.name,
                file.display(),
                stage.name
            );
            failed = true;
            continue;
        };
        let damage = entry.damage();
        if !damage.is_empty() {
            eprintln!(
                "error: the cached report `{}` is damaged ({}): run `echolab run {}` to recompute it",
                stage.name,
                crate::runtime::damage_text(&damage),
                file.display()
            );
            failed = true;
            continue;
        }
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("cannot create `{}`", folder.display()))?;
        for name in entry.manifest.artifacts.keys() {
            let source = entry.artifact(name);
            let target = folder.join(name);
            if name == "report.html" {
                let page = std::fs::read_to_string(&source)
                    .with_context(|| format!("cannot read `{}`", source.display()))?;
                write_page(&page, &table, &target)?;
            } else {
                std::fs::copy(&source, &target).with_context(|| {
                    format!(
                        "cannot copy `{}` to `{}`",
                        source.display(),
                        target.display()
                    )
                })?;
            }
        }
        let page = folder.join("report.html");
        if page.exists() {
            println!("wrote {}", page.display());
        } else {
            println!(
                "wrote {} (the report's `outputs` has no `html`)",
                folder.display()
            );
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Draws the report `stage` from the evaluations in the cache into
/// `folder`, with the run table; `false` (after saying why) when none is.
fn publish_partial(
    stage: &Stage,
    plan: &Plan,
    project: &Project,
    folder: &Path,
    table: &RunTable,
) -> anyhow::Result<bool> {
    let upstream = |role: &str| -> Result<_, StageError> {
        let Some(key) = stage.upstream.get(role) else {
            return Ok(None);
        };
        Ok(project.cache.intact(key)?)
    };
    let name_of = |role: &str| {
        stage
            .upstream
            .get(role)
            .and_then(|key| plan.stage(key))
            .map_or_else(|| role.to_string(), |upstream| upstream.name.clone())
    };
    let built = build_report(&stage.parameters, &stage.name, &upstream, &name_of)?;
    if built.read == 0 {
        eprintln!(
            "error: report `{}`: none of its {} evaluations is in the cache yet",
            stage.name,
            built.missing.len()
        );
        return Ok(false);
    }
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot create `{}`", folder.display()))?;
    for (name, bytes) in &built.files {
        let target = folder.join(name);
        if name == "report.html" {
            write_page(&String::from_utf8_lossy(bytes), table, &target)?;
        } else {
            std::fs::write(&target, bytes)
                .with_context(|| format!("cannot write `{}`", target.display()))?;
        }
    }
    println!(
        "wrote {} (partial: {} of {} evaluations; not cached: {})",
        folder.display(),
        built.read,
        built.read + built.missing.len(),
        built.missing.join(", ")
    );
    Ok(true)
}

/// Writes a report page to `target` with its run-table place (if it has
/// one) filled with `table`.
fn write_page(page: &str, table: &RunTable, target: &Path) -> anyhow::Result<()> {
    let page = if page.contains(RUN_TABLE_MARKER) {
        insert_run_table(page, &table.to_html())?
    } else {
        page.to_string()
    };
    std::fs::write(target, page).with_context(|| format!("cannot write `{}`", target.display()))
}

/// Every stage of `plan`: kind, key, input files, cached, recorded duration;
/// and the lockfile's provenance.
fn run_table(plan: &Plan, project: &Project) -> anyhow::Result<RunTable> {
    let logs = project.logs(&plan.experiment);
    let mut provenance = Vec::new();
    // The lockfile says where the recorded outputs were made (a clone
    // ships its authors'); the checkout is where this report was made.
    let commit = |commit: Option<String>, dirty: bool| match commit {
        Some(commit) if dirty => format!("{commit} (dirty)"),
        Some(commit) => commit,
        None => "not a git repository".to_string(),
    };
    if let Some(lock) = Lockfile::read(&project.lockfile(&plan.experiment))? {
        provenance.push(("echolab".to_string(), lock.provenance.echolab));
        provenance.push(("candle".to_string(), lock.provenance.candle));
        if lock.provenance.commit.is_some() {
            provenance.push((
                "lockfile recorded at commit".to_string(),
                commit(lock.provenance.commit, lock.provenance.dirty),
            ));
        }
        provenance.push(("platform".to_string(), lock.provenance.platform));
    }
    let checkout = Provenance::current(&project.root);
    provenance.push((
        "reported from checkout".to_string(),
        commit(checkout.commit, checkout.dirty),
    ));
    let mut rows = Vec::new();
    for stage in &plan.stages {
        rows.push(RunTableRow {
            name: stage.name.clone(),
            kind: stage.kind.name().to_string(),
            key: stage.key.0.clone(),
            inputs: stage
                .inputs
                .iter()
                .map(|(path, digest)| (path.clone(), digest.blake3.clone()))
                .collect(),
            cached: project.cache.get(&stage.key)?.is_some(),
            seconds: StageTiming::read(&logs, stage),
        });
    }
    Ok(RunTable { provenance, rows })
}
