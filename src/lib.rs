//! echolab: bit-for-bit reproducible echo-chamber experiments.
//!
//! The crate is laid out by stage of the pipeline, each module owning one
//! concern:
//!
//! | module | owns |
//! |---|---|
//! | [`random`] | the seeded, counter-based generator behind every random number |
//! | [`data`] | problems, their three solution formats, real-data adapters, tokenizer |
//! | [`model`] | the GPT in candle, its presets, seeded initialisation, the key-value cache |
//! | [`training`] | pretraining: mixture sampling, AdamW, schedules, checkpoints, resume |
//! | [`bench`] | `echolab bench`: measured figures, printed side by side |
#![deny(missing_docs)]

pub mod bench;
pub mod data;
pub mod model;
pub mod random;
pub mod training;
