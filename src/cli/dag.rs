//! `echolab dag`: the stage graph as text, Graphviz dot or Mermaid.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use clap::ValueEnum;

use super::load_plan;
use crate::plan::Plan;

/// How to draw the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DagFormat {
    /// One line per stage with its upstream stages.
    Text,
    /// Graphviz `dot`.
    Dot,
    /// Mermaid `flowchart`.
    Mermaid,
}

pub(super) fn run(file: &Path, format: DagFormat) -> anyhow::Result<ExitCode> {
    let Some((_, plan)) = load_plan(file)? else {
        return Ok(ExitCode::from(1));
    };
    print!("{}", render(&plan, format));
    Ok(ExitCode::SUCCESS)
}

/// The plan drawn in `format`.
pub(crate) fn render(plan: &Plan, format: DagFormat) -> String {
    let mut out = String::new();
    let name_of = |key: &crate::plan::StageKey| {
        plan.stage(key)
            .map_or_else(|| key.short().to_string(), |stage| stage.name.clone())
    };
    match format {
        DagFormat::Text => {
            for stage in &plan.stages {
                let _ = writeln!(
                    out,
                    "{:<10} {} {}",
                    stage.kind.name(),
                    stage.key.short(),
                    stage.name
                );
                for (role, key) in &stage.upstream {
                    let _ = writeln!(out, "{:<10}   {role} <- {}", "", name_of(key));
                }
            }
        }
        DagFormat::Dot => {
            let _ = writeln!(
                out,
                "digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];",
                plan.experiment
            );
            for stage in &plan.stages {
                let _ = writeln!(
                    out,
                    "  \"{}\" [label=\"{}\\n{}\"];",
                    stage.key.short(),
                    stage.name.replace('"', "\\\""),
                    stage.kind
                );
            }
            for stage in &plan.stages {
                for (role, key) in &stage.upstream {
                    let _ = writeln!(
                        out,
                        "  \"{}\" -> \"{}\" [label=\"{role}\"];",
                        key.short(),
                        stage.key.short()
                    );
                }
            }
            out.push_str("}\n");
        }
        DagFormat::Mermaid => {
            out.push_str("flowchart LR\n");
            for stage in &plan.stages {
                let _ = writeln!(
                    out,
                    "  s{}[\"{}<br/>{}\"]",
                    stage.key.short(),
                    stage.name.replace('"', "#quot;"),
                    stage.kind
                );
            }
            for stage in &plan.stages {
                for (role, key) in &stage.upstream {
                    let _ = writeln!(out, "  s{} -->|{role}| s{}", key.short(), stage.key.short());
                }
            }
        }
    }
    out
}
