//! `echolab bench`: run benchmark groups and print one table.

use std::process::ExitCode;

use crate::bench::{groups, run_memory_child, Bench};
use crate::runtime::on_threads;

pub(super) fn run(
    selected: &[String],
    list: bool,
    memory_child: Option<&str>,
) -> anyhow::Result<ExitCode> {
    if let Some(workload) = memory_child {
        on_threads(rayon::current_num_threads(), || run_memory_child(workload))?;
        return Ok(ExitCode::SUCCESS);
    }
    let all = groups();
    if list {
        for group in &all {
            println!("{:<12} {}", group.name, group.about);
        }
        return Ok(ExitCode::SUCCESS);
    }
    for name in selected {
        if !all.iter().any(|group| group.name == name) {
            let names: Vec<&str> = all.iter().map(|group| group.name).collect();
            anyhow::bail!(
                "unknown benchmark group `{name}`; the groups are {}",
                names.join(", ")
            );
        }
    }
    let mut bench = Bench::new();
    for group in all
        .iter()
        .filter(|group| selected.is_empty() || selected.iter().any(|name| name == group.name))
    {
        eprintln!("running {} ...", group.name);
        bench.start_group(group.name);
        // Inside a pool, as a stage computes (`runtime::on_threads`).
        on_threads(rayon::current_num_threads(), || (group.run)(&mut bench))?;
    }
    print!("{}", bench.render());
    Ok(ExitCode::SUCCESS)
}
