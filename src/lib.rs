//! echolab: bit-for-bit reproducible echo-chamber experiments.
//!
//! The crate is laid out by stage of the pipeline, each module owning one
//! concern:
//!
//! | module | owns |
//! |---|---|
//! | [`syntax`] | `.echo` text to a syntax tree with spans, and back (the formatter) |
//! | [`compiler`] | names, types, defaults, sweeps: a checked experiment |
//! | [`diagnostic`] | errors and warnings with their place, rendered for people or tools |
//! | [`cli`] | the `echolab` command line |
//! | [`random`] | the seeded, counter-based generator behind every random number |
//! | [`data`] | problems, their three solution formats, real-data adapters, tokenizer |
//! | [`model`] | the GPT in candle, its presets, seeded initialisation, the key-value cache |
//! | [`training`] | pretraining: mixture sampling, AdamW, schedules, checkpoints, resume |
//! | [`bench`] | `echolab bench`: measured figures, printed side by side |
#![deny(missing_docs)]

pub mod bench;
pub mod cli;
pub mod compiler;
pub mod data;
pub mod diagnostic;
pub mod model;
pub mod random;
pub mod syntax;
pub mod training;
