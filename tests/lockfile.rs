//! The lockfile and the commands around it, through the real binary:
//! `echolab lock`, `lock --locked`, `status`, `explain`.

use std::path::{Path, PathBuf};
use std::process::Command;

use echolab::lockfile::{Lockfile, LockfileError};

/// A throwaway project: `tests/plan/keys.echo` with its data and a `lockfiles/` folder.
fn project() -> (tempfile::TempDir, PathBuf) {
    let directory = tempfile::tempdir().unwrap();
    let root = directory.path();
    std::fs::create_dir_all(root.join("lockfiles")).unwrap();
    std::fs::create_dir_all(root.join("experiments/data")).unwrap();
    for file in ["problems.jsonl", "other.jsonl"] {
        std::fs::copy(
            format!("tests/plan/data/{file}"),
            root.join("experiments/data").join(file),
        )
        .unwrap();
    }
    let experiment = root.join("experiments/keys.echo");
    std::fs::copy("tests/plan/keys.echo", &experiment).unwrap();
    (directory, experiment)
}

fn echolab(arguments: &[&str], project: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_echolab"))
        .args(arguments)
        .current_dir(project)
        .env("NO_COLOR", "1")
        .env_remove("ECHOLAB_CACHE")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (
        output.status.success(),
        text.replace(&project.display().to_string(), "[project]"),
    )
}

#[test]
fn locking_twice_writes_the_same_bytes_and_the_second_time_nothing() {
    let (directory, _) = project();
    let root = directory.path();
    let (ok, output) = echolab(&["lock", "experiments/keys.echo"], root);
    assert!(ok, "{output}");
    let lock_path = root.join("lockfiles/keys.lock");
    let first = std::fs::read(&lock_path).unwrap();
    let modified = std::fs::metadata(&lock_path).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let (ok, output) = echolab(&["lock", "experiments/keys.echo"], root);
    assert!(ok && output.contains("up to date"), "{output}");
    assert_eq!(std::fs::read(&lock_path).unwrap(), first);
    assert_eq!(
        std::fs::metadata(&lock_path).unwrap().modified().unwrap(),
        modified,
        "an unchanged lock was rewritten"
    );
    let text = String::from_utf8(first).unwrap();
    assert!(text.starts_with("# @generated"));
    assert!(text.contains("version = 1\nrevision = 0\n"));
    assert!(text.contains("[inputs.\"data/problems.jsonl\"]"));
    assert!(text.contains("[inputs.\"<built-in>/gsm8k/test.jsonl\"]"));
    assert!(
        !text.contains(&root.display().to_string()),
        "an absolute path leaked into the lockfile"
    );
}

#[test]
fn a_lockfile_reads_back_to_the_same_value() {
    let (directory, _) = project();
    let root = directory.path();
    assert!(echolab(&["lock", "experiments/keys.echo"], root).0);
    let path = root.join("lockfiles/keys.lock");
    let lock = Lockfile::read(&path).unwrap().unwrap();
    let again = Lockfile::parse(&lock.to_toml(), &path).unwrap();
    assert_eq!(lock, again);
    assert_eq!(lock.to_toml(), std::fs::read_to_string(&path).unwrap());
    assert_eq!(lock.stages.len(), 10);
}

#[test]
fn a_newer_version_is_refused_and_a_newer_revision_is_read() {
    let (directory, _) = project();
    let root = directory.path();
    assert!(echolab(&["lock", "experiments/keys.echo"], root).0);
    let path = root.join("lockfiles/keys.lock");
    let text = std::fs::read_to_string(&path).unwrap();
    let newer_revision = text
        .replace("revision = 0", "revision = 7")
        .replace("[provenance]", "future_field = \"ignored\"\n\n[provenance]");
    let lock = Lockfile::parse(&newer_revision, &path).unwrap();
    assert_eq!(lock.stages.len(), 10);
    let newer_version = text.replace("version = 1", "version = 2");
    match Lockfile::parse(&newer_version, &path) {
        Err(error @ LockfileError::TooNew { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("has format version 2, but this echolab reads version 1"),
                "{message}"
            );
        }
        other => panic!("a version 2 lockfile was not refused: {other:?}"),
    }
    let corrupt = text.replace("[stages.base]", "[stages.base");
    assert!(matches!(
        Lockfile::parse(&corrupt, &path),
        Err(LockfileError::Corrupt { .. })
    ));
}

#[test]
fn locked_refuses_a_changed_experiment_and_says_exactly_why() {
    let (directory, experiment) = project();
    let root = directory.path();
    let (ok, output) = echolab(&["lock", "--locked", "experiments/keys.echo"], root);
    assert!(!ok);
    insta::assert_snapshot!("locked_without_lockfile", output);
    assert!(echolab(&["lock", "experiments/keys.echo"], root).0);
    assert!(echolab(&["lock", "--locked", "experiments/keys.echo"], root).0);
    let text = std::fs::read_to_string(&experiment).unwrap();
    std::fs::write(
        &experiment,
        text.replace("steps = 20", "steps = 20\n    temperature = 0.8"),
    )
    .unwrap();
    std::fs::write(
        root.join("experiments/data/problems.jsonl"),
        "{\"q\": \"x\", \"a\": \"1\", \"s\": \"1\"}\n",
    )
    .unwrap();
    let (ok, output) = echolab(&["lock", "--locked", "experiments/keys.echo"], root);
    assert!(!ok);
    insta::assert_snapshot!("locked_refusal", output);
}

#[test]
fn status_and_explain_say_what_would_run_and_why() {
    let (directory, experiment) = project();
    let root = directory.path();
    let (_, never_run) = echolab(&["status", "experiments/keys.echo"], root);
    insta::assert_snapshot!("status_never_run", never_run);
    assert!(echolab(&["lock", "experiments/keys.echo"], root).0);
    let text = std::fs::read_to_string(&experiment).unwrap();
    std::fs::write(&experiment, text.replace("noise = 5%", "noise = 10%")).unwrap();
    let (_, changed) = echolab(&["status", "experiments/keys.echo"], root);
    insta::assert_snapshot!("status_after_edit", changed);
    let (ok, explained) = echolab(&["explain", "experiments/keys.echo", "prose"], root);
    assert!(ok, "{explained}");
    insta::assert_snapshot!("explain_prose", explained);
    let (ok, unknown) = echolab(&["explain", "experiments/keys.echo", "tunde"], root);
    assert!(
        !ok && unknown.contains("did you mean `tuned`?"),
        "{unknown}"
    );
}

#[test]
fn printing_into_a_closed_pipe_ends_quietly_instead_of_panicking() {
    // `echolab explain ... | head -1`: the reader is gone before the command
    // prints (it drops its end as soon as the process exists).
    let mut child = Command::new(env!("CARGO_BIN_EXE_echolab"))
        .args(["explain", "experiments/echo_chamber.echo", "base"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(output.status.code(), Some(101), "{stderr}");
}

#[test]
fn explain_of_a_definition_explains_each_of_its_stages_or_lists_them() {
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path().to_str().unwrap();
    let explain = |file: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_echolab"))
            .args(["explain", file, "tuned", "--cache", cache])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    // Two sweep points: each explained in full.
    let two = explain("experiments/echo_chamber.echo");
    assert!(
        two.starts_with("`tuned` is a definition with 2 stages:\n"),
        "{two}"
    );
    for point in ["tuned[kl=constant(0)]", "tuned[kl=constant(0.01)]"] {
        assert!(two.contains(&format!("\nstage      {point}\n")), "{two}");
    }
    assert_eq!(two.matches("\nparameters\n").count(), 2, "{two}");
    // Three points of three replicates: listed, with the command for each.
    let nine = explain("experiments/kl_sweep.echo");
    assert!(
        nine.starts_with("`tuned` is a definition with 9 stages:\n"),
        "{nine}"
    );
    assert!(
        nine.contains(
            "  echolab explain experiments/kl_sweep.echo 'tuned[kl=constant(0.001)]#2'\n"
        ),
        "{nine}"
    );
    assert!(!nine.contains("\nparameters\n"), "{nine}");
}
