//! Benchmark group `plan`: building the stage graph, and hashing inputs.

use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use super::{best_of, language::swept_experiment, Bench};
use crate::compiler::compile_text;
use crate::plan::{build, digest_file};
use crate::random::Stream;

/// Runs the group.
pub fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let text = swept_experiment(100);
    let compilation = compile_text("swept.echo", Path::new("swept.echo"), text);
    let checked = compilation
        .experiment
        .ok_or_else(|| anyhow::anyhow!("the benchmark experiment does not check"))?;
    let mut stages = 0;
    let planning = best_of(10, || {
        if let Ok(plan) = build(&checked, Path::new(".")) {
            stages = plan.stages.len();
        }
    });
    bench.record(
        &format!("plan a 100-point sweep ({stages} stages), no files"),
        planning.as_secs_f64() * 1e3,
        "ms",
        "target < 50 ms",
    );

    let directory = tempfile::tempdir()?;
    let path = directory.path().join("one-gibibyte.bin");
    let size: u64 = 1 << 30;
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let mut stream = Stream::new(1);
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..(size >> 20) {
            for chunk in block.chunks_mut(8) {
                chunk.copy_from_slice(&stream.next_u64().to_le_bytes()[..chunk.len()]);
            }
            file.write_all(&block)?;
        }
        file.flush()?;
    }
    let gibibytes = size as f64 / (1u64 << 30) as f64;
    let _ = digest_file(&path)?; // warm the page cache
    let hashing = best_of(3, || {
        let _ = digest_file(&path);
    });
    bench.record(
        "hash a 1 GiB file (echolab, blake3 mmap+rayon)",
        gibibytes / hashing.as_secs_f64(),
        "GiB/s",
        "",
    );
    for tool in ["b3sum", "sha256sum"] {
        let start = Instant::now();
        match std::process::Command::new(tool).arg(&path).output() {
            Ok(output) if output.status.success() => {
                let seconds = start.elapsed().as_secs_f64();
                bench.record(
                    &format!("hash the same file with `{tool}`"),
                    gibibytes / seconds,
                    "GiB/s",
                    "",
                );
            }
            _ => bench.record(
                &format!("hash the same file with `{tool}`"),
                f64::NAN,
                "GiB/s",
                "not installed",
            ),
        }
    }
    Ok(())
}
