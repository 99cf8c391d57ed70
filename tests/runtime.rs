//! The runtime through the real binary: concurrent runs on one cache, a
//! tampered cache entry, and runs killed mid-stage or mid-publication. Each
//! test runs a small real experiment in a throwaway project.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A throwaway project holding a copy of the experiment file `source`.
fn project_with(source: &str) -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(directory.path().join("lockfiles")).unwrap();
    std::fs::create_dir_all(directory.path().join("experiments")).unwrap();
    let name = Path::new(source).file_name().unwrap();
    std::fs::copy(source, directory.path().join("experiments").join(name)).unwrap();
    directory
}

/// A throwaway project holding `tests/runtime/mini.echo`.
fn project() -> tempfile::TempDir {
    project_with("tests/runtime/mini.echo")
}

fn command(root: &Path, arguments: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_echolab"));
    command
        .args(arguments)
        .current_dir(root)
        .env_remove("ECHOLAB_CACHE")
        .env("NO_COLOR", "1");
    command
}

fn run(root: &Path, arguments: &[&str]) -> (bool, String) {
    let output = command(root, arguments).output().unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// The recorded outputs of every stage of `mini`, from the lockfile.
fn outputs(root: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    outputs_of(root, "mini")
}

/// The recorded outputs of every stage of `experiment`, from its lockfile.
fn outputs_of(root: &Path, experiment: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let lock =
        echolab::lockfile::Lockfile::read(&root.join(format!("lockfiles/{experiment}.lock")))
            .unwrap()
            .unwrap();
    lock.stages
        .into_iter()
        .map(|(name, record)| (name, record.outputs))
        .collect()
}

fn entries(root: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(root.join(".echolab/cache/v1")) {
        Ok(listing) => listing.map(|item| item.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Every entry folder in the cache is whole: a manifest and every artifact.
fn assert_no_partial_entry(root: &Path) {
    let cache = echolab::runtime::Cache::new(&root.join(".echolab/cache"));
    for entry in entries(root) {
        let key =
            echolab::plan::StageKey(entry.file_name().unwrap().to_string_lossy().into_owned());
        let whole = cache.get(&key).unwrap();
        assert!(
            whole.is_some_and(|entry| entry.damage().is_empty()),
            "partial cache entry {}",
            entry.display()
        );
    }
}

/// The outputs of an uninterrupted run, computed once per test binary.
fn reference_outputs() -> BTreeMap<String, BTreeMap<String, String>> {
    static REFERENCE: std::sync::OnceLock<BTreeMap<String, BTreeMap<String, String>>> =
        std::sync::OnceLock::new();
    REFERENCE
        .get_or_init(|| {
            let directory = project();
            // One stage at a time, each on every thread.
            let (ok, output) = run(
                directory.path(),
                &["run", "experiments/mini.echo", "--jobs", "1"],
            );
            assert!(ok, "{output}");
            outputs(directory.path())
        })
        .clone()
}

fn wait_for(child: &mut Child, condition: impl Fn() -> bool, what: &str) {
    let start = Instant::now();
    while !condition() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before {what}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `echolab run experiments/<experiment>.echo` and returns it,
/// still running, once some folder of the cache's `work/` satisfies
/// `ready`.
fn start_run_until(
    root: &Path,
    experiment: &str,
    ready: impl Fn(&Path) -> bool,
    what: &str,
) -> Child {
    let file = format!("experiments/{experiment}.echo");
    let mut child = command(root, &["run", &file])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let work = root.join(".echolab/cache/work");
    wait_for(
        &mut child,
        || {
            std::fs::read_dir(&work)
                .is_ok_and(|listing| listing.flatten().any(|entry| ready(&entry.path())))
        },
        what,
    );
    child
}

/// Kills a run and checks that the kill left no partial entry.
fn kill(root: &Path, mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
    assert_no_partial_entry(root);
}

/// Starts `echolab run experiments/<experiment>.echo`, kills it once some
/// folder of the cache's `work/` satisfies `ready`, and checks that the kill
/// left no partial entry.
fn kill_run_when(root: &Path, experiment: &str, ready: impl Fn(&Path) -> bool, what: &str) {
    let child = start_run_until(root, experiment, ready, what);
    kill(root, child);
}

/// The `latest.json` of the one stage with a checkpoint in the work folder.
fn checkpoint_pointer(root: &Path) -> PathBuf {
    let pointers: Vec<PathBuf> = std::fs::read_dir(root.join(".echolab/cache/work"))
        .unwrap()
        .flatten()
        .map(|entry| entry.path().join("checkpoints/latest.json"))
        .filter(|path| path.exists())
        .collect();
    assert_eq!(pointers.len(), 1, "{pointers:?}");
    pointers[0].clone()
}

/// What `echolab status` prints after the line of `stage` (its kind and
/// name as printed, `rl        tuned`): the stage's reasons first.
fn status_after(root: &Path, experiment: &str, stage: &str) -> String {
    let file = format!("experiments/{experiment}.echo");
    let (ok, status) = run(root, &["status", &file]);
    assert!(ok, "{status}");
    status
        .split_once(stage)
        .map(|(_, after)| after.trim_start().to_string())
        .unwrap_or_else(|| panic!("no `{stage}` line:\n{status}"))
}

/// Runs `experiment` again and checks that it computed `stage` alone.
fn run_again_computing_only(root: &Path, experiment: &str, stage: &str) {
    let file = format!("experiments/{experiment}.echo");
    let (ok, output) = run(root, &["run", &file]);
    assert!(ok, "{output}");
    assert!(
        stages_that_ran(&output) == [stage.to_string()].into_iter().collect(),
        "only `{stage}` should run again:\n{output}"
    );
}

/// The stage logs (not the timing records beside them) of `experiment`
/// whose names start with `prefix`, one after another.
fn logs(root: &Path, experiment: &str, prefix: &str) -> String {
    std::fs::read_dir(root.join(".echolab/logs").join(experiment))
        .unwrap()
        .flatten()
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.starts_with(prefix) && name.ends_with(".log")
        })
        .map(|entry| std::fs::read_to_string(entry.path()).unwrap())
        .collect()
}

#[test]
fn two_runs_at_once_compute_each_stage_once_and_both_succeed() {
    let directory = project();
    let root = directory.path();
    let first = command(root, &["run", "experiments/mini.echo"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let second = command(root, &["run", "experiments/mini.echo", "--jobs", "2"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = first.wait_with_output().unwrap();
    let second = second.wait_with_output().unwrap();
    let texts = [
        String::from_utf8_lossy(&first.stderr).into_owned(),
        String::from_utf8_lossy(&second.stderr).into_owned(),
    ];
    assert!(
        first.status.success() && second.status.success(),
        "{texts:?}"
    );
    for stage in ["code", "prose", "base.tokenizer", "base"] {
        let computed = texts
            .iter()
            .filter(|text| {
                text.lines().any(|line| {
                    line.starts_with("ran ") && line.split_whitespace().nth(1) == Some(stage)
                })
            })
            .count();
        let cached = texts
            .iter()
            .filter(|text| {
                text.lines().any(|line| {
                    line.starts_with("cached ") && line.split_whitespace().nth(1) == Some(stage)
                })
            })
            .count();
        assert_eq!((computed, cached), (1, 1), "stage {stage}: {texts:?}");
    }
    assert_eq!(outputs(root), reference_outputs());
    assert_no_partial_entry(root);
}

#[test]
fn stages_that_start_together_share_the_threads_one_alone_gets_them_all_and_the_bytes_do_not_change(
) {
    // A fresh project run with 4 threads; `None` leaves `--jobs` to its
    // default (one stage per thread).
    let run_with_jobs = |jobs: Option<&str>| {
        let directory = project();
        let mut arguments = vec!["run", "experiments/mini.echo"];
        if let Some(jobs) = jobs {
            arguments.extend(["--jobs", jobs]);
        }
        let output = command(directory.path(), &arguments)
            .env("RAYON_NUM_THREADS", "4")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        directory
    };
    let threads_of = |root: &Path, stage: &str| -> String {
        let log = logs(root, "mini", &format!("{stage}."));
        log.lines()
            .find_map(|line| line.strip_prefix(&format!("computing `{stage}` on ")))
            .unwrap_or_else(|| panic!("{stage}: {log}"))
            .to_string()
    };
    for jobs in [None, Some("4")] {
        let directory = run_with_jobs(jobs);
        let root = directory.path();
        // The two data stages start together and share the 4 threads; the
        // tokenizer and the pretraining each start alone and get all 4.
        assert_eq!(threads_of(root, "code"), "2 threads", "{jobs:?}");
        assert_eq!(threads_of(root, "prose"), "2 threads", "{jobs:?}");
        assert_eq!(threads_of(root, "base.tokenizer"), "4 threads", "{jobs:?}");
        assert_eq!(threads_of(root, "base"), "4 threads", "{jobs:?}");
        // The reference ran with every thread in one stage at a time.
        assert_eq!(outputs(root), reference_outputs());
    }
    let directory = run_with_jobs(Some("1"));
    let root = directory.path();
    assert_eq!(threads_of(root, "code"), "4 threads");
    assert_eq!(outputs(root), reference_outputs());
}

#[test]
fn a_flipped_byte_is_found_by_cache_verify_and_recomputed_by_the_next_run() {
    let directory = project();
    let root = directory.path();
    assert!(run(root, &["run", "experiments/mini.echo"]).0);
    let model = entries(root)
        .into_iter()
        .map(|entry| entry.join("model.safetensors"))
        .find(|path| path.exists())
        .unwrap();
    let mut bytes = std::fs::read(&model).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&model, bytes).unwrap();
    let (ok, report) = run(root, &["cache", "verify"]);
    assert!(
        !ok && report.contains("damaged") && report.contains("model.safetensors"),
        "{report}"
    );
    let (ok, output) = run(root, &["run", "experiments/mini.echo"]);
    assert!(ok, "{output}");
    assert!(
        output.contains("ran      base ") && output.contains("cached   code"),
        "{output}"
    );
    let (ok, report) = run(root, &["cache", "verify"]);
    assert!(ok, "{report}");
    assert_eq!(outputs(root), reference_outputs());
}

#[test]
fn a_run_killed_during_pretraining_resumes_to_the_same_bytes() {
    let directory = project();
    let root = directory.path();
    // Kill at the first checkpoint of the pretraining stage.
    kill_run_when(
        root,
        "mini",
        |work| work.join("checkpoints/latest.json").exists(),
        "a pretraining checkpoint",
    );
    // A damaged checkpoint is named by `status` and stops the run, which
    // leaves it in place; mended, the run resumes from it.
    let pointer = checkpoint_pointer(root);
    let intact = std::fs::read(&pointer).unwrap();
    std::fs::write(&pointer, b"{\"directory\": 7}").unwrap();
    let (ok, status) = run(root, &["status", "experiments/mini.echo"]);
    assert!(ok, "{status}");
    assert!(
        status.contains("its checkpoint cannot be read") && status.contains("latest.json"),
        "{status}"
    );
    let (ok, output) = run(root, &["run", "experiments/mini.echo"]);
    assert!(!ok, "a run from a damaged checkpoint succeeded:\n{output}");
    assert!(output.contains("latest.json"), "{output}");
    assert_eq!(std::fs::read(&pointer).unwrap(), b"{\"directory\": 7}");
    std::fs::write(&pointer, intact).unwrap();
    let (ok, output) = run(root, &["run", "experiments/mini.echo"]);
    assert!(ok, "{output}");
    let log = logs(root, "mini", "");
    assert!(
        log.contains("resuming at step"),
        "the second run did not resume:\n{log}"
    );
    assert_eq!(outputs(root), reference_outputs());
    assert_no_partial_entry(root);
}

/// An uninterrupted run of `tests/runtime/mini_rl.echo`: its outputs and
/// the lockfile it wrote (as a clone of a project ships it).
fn reference_rl_run() -> (BTreeMap<String, BTreeMap<String, String>>, String) {
    let directory = project_with("tests/runtime/mini_rl.echo");
    let (ok, output) = run(directory.path(), &["run", "experiments/mini_rl.echo"]);
    assert!(ok, "{output}");
    let lockfile =
        std::fs::read_to_string(directory.path().join("lockfiles/mini_rl.lock")).unwrap();
    (outputs_of(directory.path(), "mini_rl"), lockfile)
}

#[test]
fn a_run_killed_during_rl_resumes_to_the_same_bytes_and_status_says_so_beside_a_shipped_lockfile() {
    // A fresh clone: the lockfile records every stage's outputs, the cache
    // is empty.
    let (reference, shipped) = reference_rl_run();
    let directory = project_with("tests/runtime/mini_rl.echo");
    let root = directory.path();
    std::fs::create_dir_all(root.join("lockfiles")).unwrap();
    std::fs::write(root.join("lockfiles/mini_rl.lock"), &shipped).unwrap();
    // While the RL stage computes, `status` says so (not that its recorded
    // outputs are missing); kill once its second checkpoint (step 4 of 12)
    // is the latest: pretraining checkpoints every 200 steps, so only the
    // RL stage writes a step-4 checkpoint.
    let child = start_run_until(
        root,
        "mini_rl",
        |work| {
            work.join("checkpoints/step-00000004/state.json").exists()
                && std::fs::read_to_string(work.join("checkpoints/latest.json"))
                    .is_ok_and(|pointer| pointer.contains("step-00000004"))
        },
        "the RL stage's checkpoint at step 4",
    );
    let computing = status_after(root, "mini_rl", "rl        tuned");
    assert!(
        computing.starts_with("being computed by a run now; its latest checkpoint is at step "),
        "{computing}"
    );
    kill(root, child);
    // `status` tells the interrupted stage from one never run, and
    // `explain` says the same.
    let tuned = status_after(root, "mini_rl", "rl        tuned");
    let latest = std::fs::read_to_string(checkpoint_pointer(root)).unwrap();
    let step: u64 = latest
        .trim_start_matches(r#"{"directory":"step-"#)
        .trim_end_matches(r#""}"#)
        .parse()
        .unwrap();
    let interrupted =
        format!("interrupted after step {step}; the next run resumes from that checkpoint");
    assert!(tuned.starts_with(&interrupted), "{tuned}");
    let (ok, explained) = run(root, &["explain", "experiments/mini_rl.echo", "tuned"]);
    assert!(ok && explained.contains(&interrupted), "{explained}");
    run_again_computing_only(root, "mini_rl", "tuned");
    let log = logs(root, "mini_rl", "tuned.");
    assert!(
        log.contains("resuming at step "),
        "the RL stage did not resume from its checkpoint:\n{log}"
    );
    assert_eq!(outputs_of(root, "mini_rl"), reference);
    assert_no_partial_entry(root);
}

/// The parts an evaluation kept in the work folder `work`.
fn evaluation_parts(work: &Path) -> usize {
    std::fs::read_dir(work.join("parts")).map_or(0, |listing| {
        listing
            .flatten()
            .filter(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                name.starts_with("step-") && name.ends_with(".json")
            })
            .count()
    })
}

#[test]
fn an_evaluation_killed_between_parts_resumes_with_them_to_the_same_bytes() {
    let reference = {
        let directory = project_with("tests/runtime/mini_eval.echo");
        let (ok, output) = run(directory.path(), &["run", "experiments/mini_eval.echo"]);
        assert!(ok, "{output}");
        outputs_of(directory.path(), "mini_eval")
    };
    let directory = project_with("tests/runtime/mini_eval.echo");
    let root = directory.path();
    // The evaluation measures 7 steps on 2 sets: once it has kept 2,
    // `status` says it is being computed, then the run is killed.
    let child = start_run_until(
        root,
        "mini_eval",
        |work| evaluation_parts(work) >= 2,
        "two evaluation parts",
    );
    let computing = status_after(root, "mini_eval", "eval      main:tuned");
    assert!(
        computing.starts_with("being computed by a run now; ")
            && computing.contains(" of 14 (step, set) parts measured"),
        "{computing}"
    );
    kill(root, child);
    let kept: usize = std::fs::read_dir(root.join(".echolab/cache/work"))
        .unwrap()
        .flatten()
        .map(|entry| evaluation_parts(&entry.path()))
        .sum();
    assert!((2..14).contains(&kept), "{kept} parts kept");
    // `status` says how far the evaluation got.
    let evaluation = status_after(root, "mini_eval", "eval      main:tuned");
    assert!(
        evaluation.starts_with(&format!(
            "interrupted after {kept} of 14 (step, set) parts; the next run measures only the rest"
        )),
        "{evaluation}"
    );
    run_again_computing_only(root, "mini_eval", "main:tuned");
    let log = logs(root, "mini_eval", "main_tuned.");
    assert_eq!(
        log.matches("read back from the work folder").count(),
        kept,
        "the evaluation did not read back its kept parts:\n{log}"
    );
    assert_eq!(outputs_of(root, "mini_eval"), reference);
    assert!(
        std::fs::read_dir(root.join(".echolab/cache/work"))
            .map_or(true, |listing| listing.count() == 0),
        "the work folder outlived the stage"
    );
    assert_no_partial_entry(root);
}

#[test]
fn a_run_that_dies_while_publishing_leaves_no_partial_entry() {
    let directory = project();
    let root = directory.path();
    let status = command(root, &["run", "experiments/mini.echo"])
        .env("ECHOLAB_FAULT_ABORT_BEFORE_PUBLISH", "1")
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success());
    assert!(
        entries(root).is_empty(),
        "an entry was published by a run that died before publishing"
    );
    assert!(
        std::fs::read_dir(root.join(".echolab/cache/staging"))
            .is_ok_and(|listing| listing.count() > 0),
        "the staged entry should be left in staging"
    );
    let (ok, output) = run(root, &["run", "experiments/mini.echo"]);
    assert!(ok, "{output}");
    assert_eq!(outputs(root), reference_outputs());
    assert_no_partial_entry(root);
    let (ok, output) = run(root, &["gc"]);
    assert!(ok, "{output}");
    assert!(
        std::fs::read_dir(root.join(".echolab/cache/staging"))
            .is_ok_and(|listing| listing.count() == 0),
        "gc left staging folders"
    );
}

#[test]
fn verify_recomputes_and_finds_every_artifact_identical() {
    let directory = project();
    let root = directory.path();
    assert!(run(root, &["run", "experiments/mini.echo"]).0);
    let (ok, output) = run(root, &["verify", "experiments/mini.echo"]);
    assert!(ok, "{output}");
    assert_eq!(
        output
            .lines()
            .filter(|line| line.starts_with("identical"))
            .count(),
        4,
        "{output}"
    );
    let (ok, output) = run(root, &["run", "--frozen", "experiments/mini.echo"]);
    assert!(ok && output.contains("0 ran, 4 cached"), "{output}");
}

/// A throwaway project holding the smoke version of the default experiment.
fn smoke_project() -> tempfile::TempDir {
    project_with("experiments/smoke.echo")
}

fn stages_that_ran(output: &str) -> std::collections::BTreeSet<String> {
    output
        .lines()
        .filter_map(|line| line.strip_prefix("ran      "))
        .map(|rest| {
            rest.rsplit_once(" (")
                .map_or(rest, |(name, _)| name)
                .to_string()
        })
        .collect()
}

#[test]
fn editing_only_the_kl_value_reruns_exactly_the_stages_that_depend_on_it() {
    let directory = smoke_project();
    let root = directory.path();
    let (ok, first) = run(root, &["run", "experiments/smoke.echo", "--jobs", "2"]);
    assert!(ok, "{first}");
    assert_eq!(stages_that_ran(&first).len(), 13, "{first}");
    let path = root.join("experiments/smoke.echo");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace(
            "[constant(0), constant(1e-2)]",
            "[constant(0), constant(2e-2)]",
        ),
    )
    .unwrap();
    let (ok, second) = run(root, &["run", "experiments/smoke.echo"]);
    assert!(ok, "{second}");
    let expected: std::collections::BTreeSet<String> = [
        "tuned[kl=constant(0.02)]",
        "main:tuned[kl=constant(0.02)]",
        "summary",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(stages_that_ran(&second), expected, "{second}");
    assert!(
        second.contains("cached   base\n") || second.lines().any(|line| line == "cached   base"),
        "pretraining was not reused:\n{second}"
    );
}

#[test]
fn the_smoke_experiment_verifies_byte_for_byte() {
    let directory = smoke_project();
    let root = directory.path();
    let (ok, output) = run(root, &["run", "experiments/smoke.echo", "--jobs", "2"]);
    assert!(ok, "{output}");
    let (ok, output) = run(root, &["verify", "experiments/smoke.echo"]);
    assert!(ok, "{output}");
    assert_eq!(
        output
            .lines()
            .filter(|line| line.starts_with("identical"))
            .count(),
        13,
        "{output}"
    );
    let (ok, output) = run(root, &["run", "--locked", "experiments/smoke.echo"]);
    assert!(ok && output.contains("0 ran, 13 cached"), "{output}");
}

#[test]
fn baseline_prints_each_sources_unigram_loss_beside_the_models() {
    let directory = project();
    let root = directory.path();
    let (ok, output) = run(root, &["run", "experiments/mini.echo"]);
    assert!(ok, "{output}");
    let (ok, output) = run(root, &["baseline", "experiments/mini.echo"]);
    assert!(ok, "{output}");
    let rows: Vec<Vec<&str>> = output
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect())
        .collect();
    let sources: Vec<&str> = rows.iter().map(|row| row[1]).collect();
    assert_eq!(sources, ["code", "prose"], "{output}");
    for row in &rows {
        let unigram: f64 = row[2].parse().unwrap();
        let model: f64 = row[3].parse().unwrap();
        // The vocabulary has over a hundred tokens: a unigram model pays
        // well over one nat per token, and the trained model, which has
        // seen the documents, less.
        assert!(unigram > 1.0 && unigram < 6.0, "{output}");
        assert!(model < unigram, "{output}");
    }
}

#[test]
fn off_a_terminal_a_stage_says_when_it_starts_where_its_log_is_and_how_long_it_and_the_job_have_left(
) {
    let directory = project();
    let root = directory.path();
    let output = command(root, &["run", "experiments/mini.echo"])
        .env("ECHOLAB_PROGRESS_EVERY", "0")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{printed}");
    let started = printed
        .lines()
        .find(|line| line.starts_with("started  base (log: "))
        .unwrap_or_else(|| panic!("no start line for `base`:\n{printed}"));
    let log = started
        .trim_start_matches("started  base (log: ")
        .trim_end_matches(')');
    assert!(Path::new(log).is_file(), "the named log {log} exists");
    assert!(
        printed
            .lines()
            .any(|line| line.starts_with("progress base: ") && line.ends_with(" left")),
        "no progress line with the time left:\n{printed}"
    );
    // The lines also say how far the whole job is and how long it has left,
    // its share done never going down while `base` trains.
    let shares: Vec<f64> = printed
        .lines()
        .filter(|line| line.starts_with("progress base: "))
        .filter_map(|line| line.split("; job ").nth(1))
        .filter_map(|job| job.split('%').next()?.parse().ok())
        .collect();
    assert!(!shares.is_empty(), "no job time left:\n{printed}");
    assert!(
        shares.windows(2).all(|pair| pair[0] <= pair[1]),
        "{printed}"
    );
    assert!(shares.iter().all(|share| (0.0..=100.0).contains(share)));
    // The start line comes before the stage's `ran` line.
    let position = |prefix: &str| printed.find(prefix).unwrap_or(usize::MAX);
    assert!(position("started  base") < position("ran      base "));
}
