//! Data: the problems echolab trains and evaluates on, in three formats.
//!
//! Owns the synthetic problem generator, the renderers of each solution
//! format, the real-data adapters (GSM8K, JSONL) and the tokenizer.

mod format;

pub use format::Format;
