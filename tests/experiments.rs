//! Every experiment in `experiments/` has a committed lockfile that matches
//! it: `echolab lock --locked` passes on each, so a reviewer's
//! `echolab run --locked` computes exactly the recorded stages.

use std::path::PathBuf;
use std::process::Command;

fn experiments() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("experiments")
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "echo")
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_experiment_matches_its_committed_lockfile() {
    let files = experiments();
    assert!(files.len() >= 2, "no experiments found");
    let mut failures = Vec::new();
    for file in &files {
        let output = Command::new(env!("CARGO_BIN_EXE_echolab"))
            .args(["lock", "--locked"])
            .arg(file)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        if !output.status.success() {
            failures.push(format!(
                "{}: {}",
                file.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
