//! `echolab bench`: measurements printed side by side in one run.
//!
//! Speed and memory targets live here, not in timed tests. Each area of the
//! crate contributes one group (a file in this folder); a group records rows
//! of `(name, value, unit)` with the target it is held to, and the command
//! prints every row of every selected group as one table.

mod data;
mod decoding;
mod evaluation;
pub mod language;
mod matmul_ceiling;
mod memory;
mod plan;
mod pytorch_reference;
mod report;
mod runtime;
mod sampling;
mod timing;
mod training;

pub use memory::run_child as run_memory_child;
pub use report::{Bench, Row};
pub use timing::best_of;

/// A benchmark group: its name (as typed after `echolab bench`), and the
/// function that measures it.
pub struct Group {
    /// Name used to select the group on the command line.
    pub name: &'static str,
    /// What the group measures, for `echolab bench --list`.
    pub about: &'static str,
    /// Runs the measurements and records them.
    pub run: fn(&mut Bench) -> anyhow::Result<()>,
}

/// Every benchmark group echolab has, in the order they run.
pub fn groups() -> Vec<Group> {
    vec![
        Group {
            name: "language",
            about: "parse, check and format a 1,000-line experiment; expand a 100- and a 10,000-point sweep",
            run: language::run,
        },
        Group {
            name: "data",
            about: "generate and tokenise 100,000 synthetic problems; word vs character lengths",
            run: data::run,
        },
        Group {
            name: "plan",
            about: "plan a 100-point sweep; hash a 1 GiB file next to b3sum and sha256sum",
            run: plan::run,
        },
        Group {
            name: "runtime",
            about: "a no-op `echolab run`: every stage cached",
            run: runtime::run,
        },
        training::group(),
        evaluation::group(),
        sampling::group(),
        memory::group(),
    ]
}
