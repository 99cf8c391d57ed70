//! The `echolab` command line. The only module that uses `anyhow`: library
//! errors are typed; here they become messages and exit codes.
//!
//! Exit codes: 0 success, 1 the input has errors (diagnostics printed),
//! 2 echolab itself failed (an I/O error, a bad flag).

mod baseline;
mod bench;
mod cache;
mod check;
mod dag;
mod diff;
mod format;
mod lock;
mod report;
mod run;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Bit-for-bit reproducible echo-chamber experiments.
#[derive(Debug, Parser)]
#[command(name = "echolab", version, about)]
struct Arguments {
    #[command(subcommand)]
    command: Command,
}

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum MessageFormat {
    /// For people: the source line underlined, with hints.
    Human,
    /// For tools: one JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check experiment files and report every error and warning.
    Check {
        /// The `.echo` files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value = "human")]
        message_format: MessageFormat,
    },
    /// Format experiment files in the canonical layout, in place.
    Fmt {
        /// The `.echo` files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing; exit 1 if a file is not formatted.
        #[arg(long)]
        check: bool,
    },
    /// Run an experiment: every stage not already cached, in parallel where
    /// possible; record the outputs in the lockfile.
    Run {
        /// The `.echo` file.
        file: PathBuf,
        /// Run only this stage (or every stage of this definition) and what it reads.
        #[arg(long)]
        stage: Option<String>,
        /// How many stages may run at once (default: one per core, each
        /// stage computing on its share of the cores; the bytes do not change).
        #[arg(long)]
        jobs: Option<usize>,
        /// Refuse to run if the lockfile is missing or out of date.
        #[arg(long)]
        locked: bool,
        /// Like `--locked`, and every output must already be recorded: the
        /// lockfile is never written.
        #[arg(long)]
        frozen: bool,
        /// The cache folder (default `.echolab/cache` in the project, or `ECHOLAB_CACHE`).
        #[arg(long)]
        cache: Option<PathBuf>,
        /// Where the stages run: in this process, or one Slurm job each
        /// (`docs/cluster.md`).
        #[arg(long, value_enum, default_value = "local")]
        executor: run::ExecutorKind,
        /// The Slurm partition to submit to (default: the cluster's).
        #[arg(long)]
        partition: Option<String>,
        /// An extra `#SBATCH` option for every job, verbatim (repeatable),
        /// e.g. `--slurm-arg=--account=ml`.
        #[arg(long = "slurm-arg", allow_hyphen_values = true)]
        slurm_arguments: Vec<String>,
        /// What one kind of stage's jobs ask for, e.g.
        /// `pretrain:cpus=8,memory=16G,time=2-00:00` (repeatable).
        #[arg(long = "resources")]
        resources: Vec<String>,
        /// Print the batch scripts that would be submitted; submit nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Run one stage of a plan saved by `echolab run` (what a cluster job runs).
    ExecStage {
        /// The plan file (`.echolab/plans/<experiment>.json`).
        plan: PathBuf,
        /// The stage's key or name.
        stage: String,
        /// The cache folder.
        #[arg(long)]
        cache: Option<PathBuf>,
        /// The folder for the stage's log (default `logs/` in the cache).
        #[arg(long)]
        logs: Option<PathBuf>,
    },
    /// Recompute cached stages in a scratch place and compare every artifact
    /// byte for byte with the cache and the lockfile.
    Verify {
        /// The `.echo` file.
        file: PathBuf,
        /// Verify only this stage (default: every cached stage).
        #[arg(long)]
        stage: Option<String>,
        /// The cache folder.
        #[arg(long)]
        cache: Option<PathBuf>,
    },
    /// Inspect the cache.
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
        /// The cache folder.
        #[arg(long, global = true)]
        cache: Option<PathBuf>,
    },
    /// Drop cache entries that no lockfile in the project references.
    Gc {
        /// The cache folder.
        #[arg(long)]
        cache: Option<PathBuf>,
    },
    /// Remove the whole cache.
    Clean {
        /// The cache folder.
        #[arg(long)]
        cache: Option<PathBuf>,
    },
    /// Write the experiment's lockfile, `lockfiles/<experiment>.lock`.
    Lock {
        /// The `.echo` file.
        file: PathBuf,
        /// Change nothing; exit 1 if the lockfile is missing or out of date.
        #[arg(long)]
        locked: bool,
        /// The cache folder (default `.echolab/cache` in the project, or `ECHOLAB_CACHE`).
        #[arg(long)]
        cache: Option<PathBuf>,
    },
    /// Show every stage as fresh, cached or stale, with the reasons.
    Status {
        /// The `.echo` file.
        file: PathBuf,
        /// The cache folder.
        #[arg(long)]
        cache: Option<PathBuf>,
    },
    /// Each pretraining stage's held-out loss per source beside the unigram
    /// baseline (a model that knows only token frequencies).
    Baseline {
        /// The `.echo` file.
        file: PathBuf,
        /// The cache folder.
        #[arg(long)]
        cache: Option<PathBuf>,
    },
    /// Show one stage in full: key, status, upstream, inputs, parameters, outputs.
    Explain {
        /// The `.echo` file.
        file: PathBuf,
        /// The stage's name, as `echolab status` prints it.
        stage: String,
        /// The cache folder.
        #[arg(long)]
        cache: Option<PathBuf>,
    },
    /// Draw the stage graph of an experiment.
    Dag {
        /// The `.echo` file.
        file: PathBuf,
        /// How to draw it.
        #[arg(long, value_enum, default_value = "text")]
        format: dag::DagFormat,
    },
    /// Publish an experiment's cached report: charts, `metrics.csv` and
    /// `report.html` with the run table (stages, keys, inputs, durations).
    Report {
        /// The `.echo` file.
        file: PathBuf,
        /// Where to write (default `reports/<experiment>/` in the project).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The cache folder.
        #[arg(long)]
        cache: Option<PathBuf>,
        /// When the report stage is not cached yet, draw the report from
        /// the evaluations that are, saying on the page which are missing
        /// (published only, never cached).
        #[arg(long)]
        partial: bool,
    },
    /// Compare the metrics of two runs or sweep points, value by value.
    ///
    /// Each side is `FILE` (its cached report) or `FILE:STAGE`
    /// (`experiments/x.echo:main:tuned[kl=constant(0)]`, or a trained stage:
    /// the evaluations of it). Replicates are averaged.
    Diff {
        /// The first side.
        a: String,
        /// The second side.
        b: String,
        /// How to print.
        #[arg(long, value_enum, default_value = "text")]
        format: diff::DiffFormat,
        /// The cache folder.
        #[arg(long)]
        cache: Option<PathBuf>,
    },
    /// Measure echolab's speed and print the figures side by side.
    Bench {
        /// Groups to run (all when none is named).
        groups: Vec<String>,
        /// List the groups and exit.
        #[arg(long)]
        list: bool,
        /// Run one workload of the `memory` group and print its peak
        /// memory (the group starts itself with this; not for users).
        #[arg(long, hide = true, value_name = "WORKLOAD")]
        memory_child: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Re-hash every entry and report the corrupt ones.
    Verify,
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let result = match arguments.command {
        Command::Check {
            files,
            message_format,
        } => check::run(&files, message_format),
        Command::Fmt { files, check } => format::run(&files, check),
        Command::Dag { file, format } => dag::run(&file, format),
        Command::Run {
            file,
            stage,
            jobs,
            locked,
            frozen,
            cache,
            executor,
            partition,
            slurm_arguments,
            resources,
            dry_run,
        } => run::run(
            &file,
            run::RunOptions {
                stage,
                jobs: jobs.unwrap_or_else(rayon::current_num_threads).max(1),
                locked,
                frozen,
                cache,
                executor,
                partition,
                slurm_arguments,
                resources,
                dry_run,
            },
        ),
        Command::ExecStage {
            plan,
            stage,
            cache,
            logs,
        } => run::exec_stage(&plan, &stage, cache.as_deref(), logs.as_deref()),
        Command::Verify { file, stage, cache } => {
            run::verify(&file, stage.as_deref(), cache.as_deref())
        }
        Command::Cache {
            command: CacheCommand::Verify,
            cache,
        } => cache::verify(cache.as_deref()),
        Command::Gc { cache } => cache::gc(cache.as_deref()),
        Command::Clean { cache } => cache::clean(cache.as_deref()),
        Command::Lock {
            file,
            locked,
            cache,
        } => lock::lock(&file, locked, cache.as_deref()),
        Command::Status { file, cache } => lock::status(&file, cache.as_deref()),
        Command::Explain { file, stage, cache } => lock::explain(&file, &stage, cache.as_deref()),
        Command::Baseline { file, cache } => baseline::baseline(&file, cache.as_deref()),
        Command::Report {
            file,
            out,
            cache,
            partial,
        } => report::run(&file, out.as_deref(), cache.as_deref(), partial),
        Command::Diff {
            a,
            b,
            format,
            cache,
        } => diff::run(&a, &b, format, cache.as_deref()),
        Command::Bench {
            groups,
            list,
            memory_child,
        } => bench::run(&groups, list, memory_child.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// The folder an experiment file's relative input paths start from.
pub(crate) fn experiment_directory(file: &Path) -> PathBuf {
    match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Compiles `file` and builds its plan; prints diagnostics. `None` when the
/// file has errors (already printed).
pub(crate) fn load_plan(
    file: &Path,
) -> anyhow::Result<Option<(crate::compiler::CheckedExperiment, crate::plan::Plan)>> {
    let compilation = crate::compiler::compile_file(file)?;
    check::print_diagnostics(
        &compilation.sources,
        &compilation.diagnostics,
        MessageFormat::Human,
    );
    let Some(checked) = compilation.experiment else {
        return Ok(None);
    };
    let directory = file.parent().unwrap_or(Path::new(""));
    let plan = crate::plan::build(&checked, directory)?;
    Ok(Some((checked, plan)))
}

/// Whether to colour output written to standard error.
pub(crate) fn color_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}
