//! `echolab bench memory`'s child processes: each prints the peak resident
//! memory of the work it did, so the group can set them side by side.

use std::process::Command;

/// Runs `echolab bench --memory-child WORKLOAD`; returns its exit status
/// success, stdout and stderr.
fn child(workload: &str) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_echolab"))
        .args(["bench", "--memory-child", workload])
        .output()
        .expect("the echolab binary starts");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn peak_kibibytes(stdout: &str) -> u64 {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("peak_kib="))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no peak line in {stdout:?}"))
}

#[test]
#[cfg(target_os = "linux")]
fn a_training_step_peaks_above_the_idle_process_and_a_bad_workload_is_named() {
    let (ok, idle, stderr) = child("idle");
    assert!(ok, "{stderr}");
    let idle = peak_kibibytes(&idle);
    assert!(idle > 0);

    let (ok, pretrain, stderr) = child("pretrain:tiny");
    assert!(ok, "{stderr}");
    let pretrain = peak_kibibytes(&pretrain);
    // The tiny preset at batch 32 and context 192 keeps tens of MiB of
    // activations and gradients alive at once; the idle process does not.
    assert!(
        pretrain > idle + 20 * 1024,
        "pretrain:tiny peaked at {pretrain} KiB, the idle process at {idle} KiB"
    );

    let (ok, _, stderr) = child("pretrain:huge");
    assert!(!ok);
    assert!(stderr.contains("no preset `huge`"), "{stderr}");
    let (ok, _, stderr) = child("sleep");
    assert!(!ok);
    assert!(
        stderr.contains("unknown memory workload `sleep`"),
        "{stderr}"
    );
}
