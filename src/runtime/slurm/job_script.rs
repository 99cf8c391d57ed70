//! [`JobScript`]: the batch script of one stage, as `sbatch` reads it.
//!
//! Everything the job needs is in the script, so a dry run shows exactly
//! what would be submitted: its name, where Slurm writes its output (the
//! stage's own log, appended to), its resources, the jobs it waits for
//! (`--dependency=afterok:...` with `--kill-on-invalid-dep=yes`, so a
//! failure cancels its dependants instead of leaving them pending), the
//! user's extra `#SBATCH` options last (they win), and one command:
//! `echolab exec-stage` on the saved plan and the shared cache, by absolute
//! paths, with as many threads as the job has CPUs.

use std::fmt::Write as _;
use std::path::Path;

use super::Resources;
use crate::plan::{Stage, StageKey};

/// One stage's batch script, before rendering.
#[derive(Debug, Clone)]
pub struct JobScript<'a> {
    /// The stage.
    pub stage: &'a Stage,
    /// The experiment's name (in the job's name).
    pub experiment: &'a str,
    /// The `echolab` binary the job runs (absolute).
    pub program: &'a Path,
    /// The saved plan (absolute).
    pub plan_file: &'a Path,
    /// The shared cache (absolute).
    pub cache: &'a Path,
    /// The folder of the stages' logs (absolute).
    pub logs: &'a Path,
    /// The stage's log, where Slurm appends the job's output (absolute).
    pub log: &'a Path,
    /// The job's working folder (absolute): the project's top.
    pub working_directory: &'a Path,
    /// What the job asks for.
    pub resources: Resources,
    /// The partition, when one is chosen.
    pub partition: Option<&'a str>,
    /// Jobs that must complete first: their ids (or, in a dry run, names
    /// standing for them).
    pub dependencies: &'a [String],
    /// Extra `#SBATCH` options, verbatim (`--account=ml`, `--qos=long`).
    pub extra_arguments: &'a [String],
}

impl JobScript<'_> {
    /// The job's name: `echolab.<experiment>.<stage>`.
    pub fn job_name(&self) -> String {
        let safe = |text: &str| -> String {
            text.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.#=".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        format!(
            "echolab.{}.{}",
            safe(self.experiment),
            safe(&self.stage.name)
        )
    }

    /// The script's text.
    pub fn render(&self) -> String {
        let mut text = String::from("#!/bin/sh\n");
        let mut option = |option: String| {
            let _ = writeln!(text, "#SBATCH {option}");
        };
        option(format!("--job-name={}", self.job_name()));
        option(format!("--output={}", self.log.display()));
        option("--open-mode=append".to_string());
        option(format!("--chdir={}", self.working_directory.display()));
        option("--nodes=1".to_string());
        option("--ntasks=1".to_string());
        option(format!("--cpus-per-task={}", self.resources.cpus));
        option(format!("--mem={}M", self.resources.memory_mebibytes));
        option(format!("--time={}", self.resources.time_limit()));
        if let Some(partition) = self.partition {
            option(format!("--partition={partition}"));
        }
        if !self.dependencies.is_empty() {
            option(format!(
                "--dependency=afterok:{}",
                self.dependencies.join(":")
            ));
            option("--kill-on-invalid-dep=yes".to_string());
        }
        for extra in self.extra_arguments {
            option(extra.clone());
        }
        let _ = writeln!(
            text,
            "# echolab stage `{}` ({}), key {}",
            self.stage.name,
            self.stage.kind.name(),
            self.stage.key
        );
        let _ = writeln!(
            text,
            "export RAYON_NUM_THREADS=\"${{SLURM_CPUS_PER_TASK:-{}}}\"",
            self.resources.cpus
        );
        let _ = writeln!(
            text,
            "exec {} exec-stage {} {} --cache {} --logs {}",
            quote(&self.program.display().to_string()),
            quote(&self.plan_file.display().to_string()),
            quote(&self.stage.key.0),
            quote(&self.cache.display().to_string()),
            quote(&self.logs.display().to_string()),
        );
        text
    }

    /// The stage's key.
    pub fn key(&self) -> &StageKey {
        &self.stage.key
    }
}

/// `text` quoted for the shell, in single quotes.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::plan::StageKind;

    fn stage(name: &str, kind: StageKind, key: &str) -> Stage {
        Stage {
            name: name.to_string(),
            kind,
            key: StageKey(key.to_string()),
            parameters: serde_json::Value::Null,
            settings: serde_json::Value::Null,
            upstream: BTreeMap::new(),
            inputs: BTreeMap::new(),
        }
    }

    fn script<'a>(
        stage: &'a Stage,
        paths: &'a [PathBuf; 5],
        log: &'a Path,
        dependencies: &'a [String],
        extra_arguments: &'a [String],
        partition: Option<&'a str>,
    ) -> JobScript<'a> {
        JobScript {
            stage,
            experiment: "smoke",
            program: &paths[0],
            plan_file: &paths[1],
            cache: &paths[2],
            logs: &paths[3],
            log,
            working_directory: &paths[4],
            resources: Resources::default_for(stage.kind),
            partition,
            dependencies,
            extra_arguments,
        }
    }

    fn paths() -> [PathBuf; 5] {
        [
            PathBuf::from("/opt/echolab/bin/echolab"),
            PathBuf::from("/shared/project/.echolab/plans/smoke.json"),
            PathBuf::from("/shared/cache"),
            PathBuf::from("/shared/project/.echolab/logs/smoke"),
            PathBuf::from("/shared/project"),
        ]
    }

    fn log(stage: &Stage) -> PathBuf {
        paths()[3].join(crate::runtime::log_file_name(stage))
    }

    #[test]
    fn a_stage_without_upstream_jobs_has_no_dependency() {
        let stage = stage("data.tinygsm", StageKind::Data, "ffee0011");
        let paths = paths();
        insta::assert_snapshot!(script(&stage, &paths, &log(&stage), &[], &[], None).render());
    }

    #[test]
    fn a_training_stage_waits_for_its_upstream_jobs() {
        let stage = stage("tuned[kl=constant(0)]", StageKind::Rl, "0123456789abcdef");
        let paths = paths();
        let dependencies = ["41".to_string(), "42".to_string()];
        let extra = ["--account=ml".to_string(), "--qos=long".to_string()];
        insta::assert_snapshot!(script(
            &stage,
            &paths,
            &log(&stage),
            &dependencies,
            &extra,
            Some("cpu")
        )
        .render());
    }

    #[test]
    fn dependencies_come_with_cancellation_on_failure() {
        let stage = stage("summary", StageKind::Report, "ab");
        let paths = paths();
        let dependencies = ["7".to_string()];
        let text = script(&stage, &paths, &log(&stage), &dependencies, &[], None).render();
        let dependency = text
            .lines()
            .position(|line| line == "#SBATCH --dependency=afterok:7")
            .unwrap();
        assert_eq!(
            text.lines().nth(dependency + 1),
            Some("#SBATCH --kill-on-invalid-dep=yes")
        );
    }

    #[test]
    fn paths_are_quoted_for_the_shell() {
        assert_eq!(quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
