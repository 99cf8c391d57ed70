//! The `evaluation` group: how fast completions are graded.
//!
//! RL grades every sampled completion (64 prompts x 8 samples per rollout
//! in the paper), so grading must cost far less than sampling: the target
//! is at least 10,000 completions a second per format on one core.

use std::hint::black_box;

use super::{best_of, Bench, Group};
use crate::evaluation::{grade, Answer};

/// The group's registration.
pub fn group() -> Group {
    Group {
        name: "evaluation",
        about: "grading throughput per solution format (interpreter, extraction)",
        run,
    }
}

const CODE: &str = "def simple_math_problem() -> int:\n    \"\"\"Janet's ducks lay 16 eggs per day.\"\"\"\n    eggs_per_day = 16\n    eggs_eaten = 3\n    eggs_baked = 4\n    remaining = eggs_per_day - eggs_eaten - eggs_baked\n    result = remaining * 2\n    return result\n";
const CODE_TEXT: &str = "Let's solve this problem using Python code.\n<llm-code>\neggs = 16 - 3 - 4\nresult = eggs * 2\nresult\n</llm-code>\n<llm-code-output>\n18\n</llm-code-output>\nThus, Janet makes \\boxed{18} dollars.";
const PROSE: &str = "Janet has 16 - 3 - 4 = 9 eggs left to sell.\n9 * $2 = $18.\nThus, Janet makes \\boxed{18} dollars every day.";

fn run(bench: &mut Bench) -> anyhow::Result<()> {
    bench.start_group("evaluation");
    let reference = Answer::parse("18")?;
    const REPEATS: usize = 2_000;
    for (name, completion) in [("code", CODE), ("code_text", CODE_TEXT), ("prose", PROSE)] {
        anyhow::ensure!(
            grade(completion, &reference).correct,
            "{name} example must grade correct"
        );
        let elapsed = best_of(5, || {
            for _ in 0..REPEATS {
                black_box(grade(black_box(completion), &reference));
            }
        });
        let per_second = REPEATS as f64 / elapsed.as_secs_f64();
        bench.record(
            &format!("grade {name} completion"),
            per_second,
            "grades/s",
            ">= 10000",
        );
    }
    Ok(())
}
