//! echolab: bit-for-bit reproducible echo-chamber experiments.
//!
//! The crate is laid out by stage of the pipeline, each module owning one
//! concern:
//!
//! | module | owns |
//! |---|---|
//! | [`random`] | the seeded, counter-based generator behind every random number |
//! | [`data`] | problems, their three solution formats, real-data adapters, tokenizer |
//! | [`evaluation`] | safe interpreter, answer extraction, grading, format classification, metrics |
//! | [`bench`] | `echolab bench`: measured figures, printed side by side |
#![deny(missing_docs)]

pub mod bench;
pub mod data;
pub mod evaluation;
pub mod random;
