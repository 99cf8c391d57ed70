//! echolab: bit-for-bit reproducible echo-chamber experiments.
//!
//! The crate is laid out by stage of the pipeline, each module owning one
//! concern:
//!
//! | module | owns |
//! |---|---|
//! | [`syntax`] | `.echo` text to a syntax tree with spans, and back (the formatter) |
//! | [`compiler`] | names, types, defaults, sweeps: a checked experiment |
//! | [`plan`] | the stage graph: stages, their keys, the files they read |
//! | [`input_file`] | opening the files an experiment names: regular files only, read within a size limit |
//! | [`lockfile`] | `lockfiles/<experiment>.lock`: reading, writing, what changed |
//! | [`diagnostic`] | errors and warnings with their place, rendered for people or tools |
//! | [`cli`] | the `echolab` command line |
//! | [`runtime`] | the content-addressed cache and the executor |
//! | [`report`] | charts (SVG, PNG) and the HTML page of an experiment's evaluations; comparing runs |
//! | [`random`] | the seeded, counter-based generator behind every random number |
//! | [`data`] | problems, their three solution formats, real-data adapters, tokenizer |
//! | [`model`] | the GPT in candle, its presets, seeded initialisation, the key-value cache |
//! | [`training`] | pretraining: mixture sampling, AdamW, schedules, checkpoints, resume |
//! | [`evaluation`] | safe interpreter, answer extraction, grading, format classification, metrics |
//! | [`bench`] | `echolab bench`: measured figures, printed side by side |
#![deny(missing_docs)]

pub mod bench;
pub mod cli;
pub mod compiler;
pub mod data;
pub mod diagnostic;
pub mod evaluation;
pub mod input_file;
pub mod lockfile;
pub mod model;
pub mod plan;
pub mod random;
pub mod report;
pub mod runtime;
pub mod syntax;
pub mod training;
