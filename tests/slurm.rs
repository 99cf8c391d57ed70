//! The Slurm executor through the real binary and a real Slurm: the smoke
//! experiment run as batch jobs gives the keys and bytes of a local run; a
//! failed job cancels its dependants, is reported with its log, and a rerun
//! submits only what is missing.
//!
//! These tests need a cluster that answers (`sinfo` succeeds). Without one
//! they print "skipped: no Slurm" and pass. `scripts/slurm_single_node.sh
//! start` starts one on this machine (CI does); its configuration is found
//! through `SLURM_CONF`, or else in `ECHOLAB_SLURM_DIR` (default
//! `/tmp/echolab-slurm`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Slurm configuration to use: `SLURM_CONF`, else the single-node
/// script's, else the system's (`None`).
fn slurm_configuration() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SLURM_CONF") {
        return Some(PathBuf::from(path));
    }
    let state = std::env::var_os("ECHOLAB_SLURM_DIR")
        .map_or_else(|| PathBuf::from("/tmp/echolab-slurm"), PathBuf::from);
    let path = state.join("slurm.conf");
    path.exists().then_some(path)
}

/// A command that talks to the test's cluster.
fn slurm_command(program: &str) -> Command {
    let mut command = Command::new(program);
    if let Some(configuration) = slurm_configuration() {
        command.env("SLURM_CONF", configuration);
    }
    command
}

/// Whether a cluster answers; prints the skip line when not.
fn slurm_answers(test: &str) -> bool {
    // A missing configuration file makes `sinfo` retry for a minute.
    let configured = slurm_configuration().is_none_or(|path| path.exists());
    let answers = configured
        && slurm_command("sinfo")
            .args(["--noheader", "--format=%T"])
            .output()
            .is_ok_and(|output| {
                output.status.success()
                    && !String::from_utf8_lossy(&output.stdout).trim().is_empty()
            });
    if !answers {
        eprintln!(
            "{test}: skipped: no Slurm (start one with `scripts/slurm_single_node.sh start`)"
        );
    }
    answers
}

/// A throwaway project holding a copy of the smoke experiment.
fn smoke_project() -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(directory.path().join("lockfiles")).unwrap();
    std::fs::create_dir_all(directory.path().join("experiments")).unwrap();
    std::fs::copy(
        "experiments/smoke.echo",
        directory.path().join("experiments/smoke.echo"),
    )
    .unwrap();
    directory
}

/// Runs echolab in `root`; returns success and standard error.
fn echolab(root: &Path, arguments: &[&str], environment: &[(&str, &str)]) -> (bool, String) {
    let mut command = slurm_command(env!("CARGO_BIN_EXE_echolab"));
    command
        .args(arguments)
        .current_dir(root)
        .env_remove("ECHOLAB_CACHE")
        .env_remove("ECHOLAB_FAULT_FAIL_STAGE")
        .env("NO_COLOR", "1");
    for (name, value) in environment {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), stderr)
}

/// Every entry of a cache: key to the blake3 of each artifact.
fn cache_contents(cache: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut contents = BTreeMap::new();
    for item in std::fs::read_dir(cache.join("v1")).unwrap() {
        let entry = item.unwrap().path();
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(entry.join("manifest.json")).unwrap())
                .unwrap();
        let artifacts = manifest["artifacts"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, digest)| (name.clone(), digest["blake3"].as_str().unwrap().to_string()))
            .collect();
        contents.insert(
            entry.file_name().unwrap().to_string_lossy().into_owned(),
            artifacts,
        );
    }
    contents
}

/// The `submitted STAGE as job ID` lines of a run: stage to job id.
fn submitted_jobs(stderr: &str) -> BTreeMap<String, String> {
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix("submitted "))
        .filter_map(|rest| rest.rsplit_once(" as job "))
        .map(|(stage, id)| (stage.to_string(), id.trim().to_string()))
        .collect()
}

/// Slurm's state name for each job, from `squeue --states=all`.
fn job_states(ids: &[&str]) -> BTreeMap<String, String> {
    let output = slurm_command("squeue")
        .args([
            "--noheader",
            "--states=all",
            "--format=%i|%T",
            "--jobs",
            &ids.join(","),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.trim().split_once('|'))
        .map(|(id, state)| (id.to_string(), state.to_string()))
        .collect()
}

#[test]
fn smoke_through_slurm_gives_the_keys_and_bytes_of_a_local_run() {
    if !slurm_answers("smoke_through_slurm_gives_the_keys_and_bytes_of_a_local_run") {
        return;
    }
    let project = smoke_project();
    let root = project.path();
    let slurm_cache = root.join("slurm-cache");
    let local_cache = root.join("local-cache");
    let (success, stderr) = echolab(
        root,
        &[
            "run",
            "experiments/smoke.echo",
            "--executor",
            "slurm",
            "--cache",
            slurm_cache.to_str().unwrap(),
        ],
        &[],
    );
    assert!(success, "{stderr}");
    let submitted = submitted_jobs(&stderr);
    assert_eq!(submitted.len(), 13, "{stderr}");
    let ids: Vec<&str> = submitted.values().map(String::as_str).collect();
    let states = job_states(&ids);
    assert!(
        states.values().all(|state| state == "COMPLETED") && states.len() == 13,
        "every job completed in Slurm: {states:?}"
    );
    assert!(stderr.contains("13 ran, 0 cached, 0 failed"), "{stderr}");

    let (success, stderr) = echolab(
        root,
        &[
            "run",
            "experiments/smoke.echo",
            "--cache",
            local_cache.to_str().unwrap(),
        ],
        &[],
    );
    assert!(success, "{stderr}");
    let through_slurm = cache_contents(&slurm_cache);
    let local = cache_contents(&local_cache);
    assert_eq!(through_slurm.len(), 13);
    assert_eq!(
        through_slurm.keys().collect::<Vec<_>>(),
        local.keys().collect::<Vec<_>>(),
        "the same stage keys"
    );
    for (key, artifacts) in &through_slurm {
        assert!(!artifacts.is_empty(), "entry {key} has artifacts");
        assert_eq!(artifacts, &local[key], "the artifacts of entry {key}");
    }

    // Everything is cached now: a second Slurm run submits nothing.
    let (success, stderr) = echolab(
        root,
        &[
            "run",
            "experiments/smoke.echo",
            "--executor",
            "slurm",
            "--cache",
            slurm_cache.to_str().unwrap(),
        ],
        &[],
    );
    assert!(success, "{stderr}");
    assert!(submitted_jobs(&stderr).is_empty(), "{stderr}");
    assert!(stderr.contains("0 ran, 13 cached, 0 failed"), "{stderr}");
}

#[test]
fn a_failed_job_cancels_its_dependants_and_a_rerun_submits_only_what_is_missing() {
    if !slurm_answers(
        "a_failed_job_cancels_its_dependants_and_a_rerun_submits_only_what_is_missing",
    ) {
        return;
    }
    let project = smoke_project();
    let root = project.path();
    let cache = root.join("cache");
    let arguments = [
        "run",
        "experiments/smoke.echo",
        "--executor",
        "slurm",
        "--cache",
        cache.to_str().unwrap(),
    ];
    let (success, stderr) = echolab(root, &arguments, &[("ECHOLAB_FAULT_FAIL_STAGE", "base")]);
    assert!(!success, "a failed stage fails the run: {stderr}");
    let submitted = submitted_jobs(&stderr);
    assert_eq!(submitted.len(), 13, "{stderr}");

    // The failure is reported with the stage's log, which holds the error.
    let report = stderr
        .lines()
        .position(|line| line.starts_with("error: stage `base` failed:"))
        .unwrap_or_else(|| panic!("no failure report for `base`: {stderr}"));
    let log_line = stderr.lines().nth(report + 1).unwrap();
    let log = PathBuf::from(log_line.trim().strip_prefix("log: ").unwrap());
    assert!(log.starts_with(root.canonicalize().unwrap()) || log.starts_with(root));
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("failure injected by `ECHOLAB_FAULT_FAIL_STAGE`"),
        "{log_text}"
    );

    // Every stage reading `base`, directly or not, was cancelled by Slurm,
    // not left pending; the others completed.
    let dependants = [
        "tuned[kl=constant(0)]",
        "tuned[kl=constant(0.01)]",
        "main:base",
        "main:tuned[kl=constant(0)]",
        "main:tuned[kl=constant(0.01)]",
        "summary",
    ];
    let ids: Vec<&str> = submitted.values().map(String::as_str).collect();
    let states = job_states(&ids);
    for (stage, id) in &submitted {
        let expected = if stage == "base" {
            "FAILED"
        } else if dependants.contains(&stage.as_str()) {
            "CANCELLED"
        } else {
            "COMPLETED"
        };
        assert_eq!(
            states.get(id).map(String::as_str),
            Some(expected),
            "job {id} of `{stage}`: {states:?}"
        );
    }
    for stage in dependants {
        assert!(
            stderr.contains(&format!("error: stage `{stage}` did not run:")),
            "`{stage}` reported as not run: {stderr}"
        );
    }
    assert!(stderr.contains("6 ran, 0 cached, 7 failed"), "{stderr}");

    // Without the fault, the rerun submits exactly the stages that failed
    // or were cancelled.
    let (success, stderr) = echolab(root, &arguments, &[]);
    assert!(success, "{stderr}");
    let resubmitted: Vec<String> = submitted_jobs(&stderr).into_keys().collect();
    let mut expected: Vec<String> = dependants.iter().map(|stage| stage.to_string()).collect();
    expected.push("base".to_string());
    expected.sort();
    assert_eq!(resubmitted, expected, "{stderr}");
    assert!(stderr.contains("7 ran, 6 cached, 0 failed"), "{stderr}");
    assert_eq!(cache_contents(&cache).len(), 13);
}

#[test]
fn a_dry_run_prints_the_scripts_and_submits_nothing() {
    // No cluster needed: nothing is submitted.
    let project = smoke_project();
    let root = project.path();
    // The RL stages ask for their own resources in the experiment file.
    let file = root.join("experiments/smoke.echo");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "    steps = 3\n",
        "    steps = 3\n    resources = slurm(cpus = 1, minutes = 45)\n",
    );
    assert!(text.contains("resources = slurm"));
    std::fs::write(&file, text).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_echolab"))
        .args([
            "run",
            "experiments/smoke.echo",
            "--executor",
            "slurm",
            "--dry-run",
            "--partition",
            "cpu",
            "--slurm-arg=--account=ml",
            "--resources",
            "pretrain:cpus=4,memory=8G,time=90",
        ])
        .current_dir(root)
        .env_remove("ECHOLAB_CACHE")
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout.matches("#!/bin/sh").count(), 13, "{stdout}");
    assert!(
        stderr.contains("0 cached, 13 jobs would be submitted"),
        "{stderr}"
    );
    // The pretraining job waits for its tokenizer and data jobs, and asks
    // for what `--resources` says.
    let base = stdout
        .split("# ---- stage ")
        .find(|script| script.starts_with("`base`"))
        .unwrap();
    assert!(base.contains("#SBATCH --cpus-per-task=4\n"), "{base}");
    assert!(base.contains("#SBATCH --mem=8192M\n"), "{base}");
    assert!(base.contains("#SBATCH --time=01:30:00\n"), "{base}");
    assert!(base.contains("#SBATCH --partition=cpu\n"), "{base}");
    assert!(base.contains("#SBATCH --account=ml\n"), "{base}");
    assert!(
        base.contains("#SBATCH --kill-on-invalid-dep=yes\n"),
        "{base}"
    );
    let dependency = base
        .lines()
        .find_map(|line| line.strip_prefix("#SBATCH --dependency=afterok:"))
        .unwrap();
    assert!(dependency.contains("<base.tokenizer>"), "{dependency}");
    let tuned = stdout
        .split("# ---- stage ")
        .find(|script| script.starts_with("`tuned[kl=constant(0)]`"))
        .unwrap();
    assert!(tuned.contains("#SBATCH --cpus-per-task=1\n"), "{tuned}");
    assert!(tuned.contains("#SBATCH --time=00:45:00\n"), "{tuned}");
    assert!(tuned.contains("#SBATCH --mem=4096M\n"), "{tuned}");
    assert!(!root.join("lockfiles/smoke.lock").exists());
}
