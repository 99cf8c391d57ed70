//! Benchmark group `language`: parsing, checking and formatting speed.

use std::fmt::Write as _;
use std::path::Path;

use super::{best_of, Bench};
use crate::compiler::compile_text;
use crate::diagnostic::FileId;
use crate::syntax::{format, parse};

/// A valid experiment of about `lines` lines: many sources, models, stages
/// and a sweep, the shapes a large study file has.
pub fn large_experiment(lines: usize) -> String {
    let mut text = String::from("# A generated study for the language benchmark.\nexperiment large {\n  seed = 1\n  replicates = 3\n");
    let groups = lines.div_ceil(24);
    for index in 0..groups.max(1) {
        let _ = write!(
            text,
            "  source code_{index} = synthetic(format = code, difficulty = 1..3, problems = 10k)\n  \
             source prose_{index} = synthetic(format = prose, difficulty = 1..3, problems = 10k, noise = 5%)\n  \
             mixture mix_{index} = code_{index} + 4 * prose_{index}\n  \
             model net_{index} = gpt(preset = tiny, layers = 2)\n  \
             # pretraining {index}\n  \
             pretrain base_{index} {{\n    model = net_{index}\n    data = mix_{index}\n    tokens = 1M\n    \
             optimizer = adamw(lr = 1e-3, betas = (0.9, 0.95))\n    schedule = cosine(warmup = 2%, final = 10%)\n  }}\n  \
             rl tuned_{index} {{\n    from = base_{index}\n    algorithm = grpo(clip = 0.2)\n    prompts = code_{index}\n    \
             steps = 40\n    kl = constant(1e-3)\n  }}\n  \
             eval eval_{index} {{\n    models = [base_{index}, tuned_{index}]\n    sets = [prose_{index}]\n    \
             metrics = [pass@1, pass@8, format_share]\n  }}\n"
        );
    }
    text.push_str("  sweep tuned_0.kl = [constant(0), constant(1e-3)]\n}\n");
    text
}

/// A valid experiment with a sweep of `points` points.
pub fn swept_experiment(points: usize) -> String {
    let values: Vec<String> = (0..points)
        .map(|index| format!("constant({})", index as f64 * 1e-3))
        .collect();
    format!(
        "experiment swept {{\n  source code = synthetic(format = code)\n  model net = gpt(preset = tiny)\n  \
         pretrain base {{ model = net  data = code  tokens = 1M }}\n  \
         rl tuned {{ from = base  prompts = code  steps = 10 }}\n  \
         eval {{ models = [tuned]  sets = [code] }}\n  sweep tuned.kl = [{}]\n}}\n",
        values.join(", ")
    )
}

/// Runs the group.
pub fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let text = large_experiment(1000);
    let lines = text.lines().count();
    let check = best_of(10, || {
        let compilation = compile_text("large.echo", Path::new("large.echo"), text.clone());
        assert!(!compilation.has_errors());
    });
    bench.record(
        &format!("check a {lines}-line file"),
        check.as_secs_f64() * 1e3,
        "ms",
        "target < 50 ms",
    );
    let parse_only = best_of(10, || {
        let _ = parse(&text, FileId(0));
    });
    bench.record(
        &format!("parse a {lines}-line file"),
        parse_only.as_secs_f64() * 1e3,
        "ms",
        "",
    );
    let parsed = parse(&text, FileId(0));
    let formatting = best_of(10, || {
        let _ = format(&text, &parsed.file);
    });
    bench.record(
        &format!("format a {lines}-line file"),
        formatting.as_secs_f64() * 1e3,
        "ms",
        "",
    );
    let swept = swept_experiment(100);
    let sweep = best_of(10, || {
        let compilation = compile_text("swept.echo", Path::new("swept.echo"), swept.clone());
        assert!(!compilation.has_errors());
    });
    bench.record(
        "check and expand a 100-point sweep",
        sweep.as_secs_f64() * 1e3,
        "ms",
        "",
    );
    let largest = swept_experiment(10_000);
    let largest_sweep = best_of(3, || {
        let compilation = compile_text("swept.echo", Path::new("swept.echo"), largest.clone());
        assert!(!compilation.has_errors());
    });
    bench.record(
        "check and expand a 10,000-point sweep (the most allowed)",
        largest_sweep.as_secs_f64() * 1e3,
        "ms",
        "target < 2,000 ms (linear in points)",
    );
    Ok(())
}
