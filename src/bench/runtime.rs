//! Benchmark group `runtime`: the time of a no-op `echolab run` (every
//! stage cached), as a separate process, the way a user meets it.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use super::Bench;

/// Runs `echolab run FILE` as a process; its wall time in milliseconds.
fn time_run(
    executable: &Path,
    file: &Path,
    cache: Option<&Path>,
) -> anyhow::Result<(bool, f64, String)> {
    let mut command = Command::new(executable);
    command.arg("run").arg(file);
    if let Some(cache) = cache {
        command.arg("--cache").arg(cache);
    }
    let start = Instant::now();
    let output = command.output()?;
    let milliseconds = start.elapsed().as_secs_f64() * 1e3;
    Ok((
        output.status.success(),
        milliseconds,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

/// Runs the group.
pub fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let executable = std::env::current_exe()?;
    let default = Path::new("experiments/echo_chamber.echo");
    // The default experiment, if a previous run cached every stage of it.
    if default.exists() {
        let (ok, _, output) = time_run(&executable, default, None)?;
        if ok && output.lines().any(|line| line.starts_with("0 ran")) {
            let best = (0..5)
                .filter_map(|_| time_run(&executable, default, None).ok())
                .map(|(_, ms, _)| ms)
                .fold(f64::INFINITY, f64::min);
            bench.record(
                "no-op `echolab run` of the default experiment",
                best,
                "ms",
                "target: a few tens of ms",
            );
            return Ok(());
        }
    }
    // Otherwise the smoke experiment, computed first into a scratch cache.
    let smoke = Path::new("experiments/smoke.echo");
    let scratch = tempfile::tempdir()?;
    let (ok, _, output) = time_run(&executable, smoke, Some(scratch.path()))?;
    anyhow::ensure!(ok, "the smoke experiment failed:\n{output}");
    let best = (0..5)
        .filter_map(|_| time_run(&executable, smoke, Some(scratch.path())).ok())
        .map(|(_, ms, _)| ms)
        .fold(f64::INFINITY, f64::min);
    bench.record(
        "no-op `echolab run` of the smoke experiment",
        best,
        "ms",
        "the default experiment is not cached: run it first",
    );
    Ok(())
}
