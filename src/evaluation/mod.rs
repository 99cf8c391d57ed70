//! Evaluation: grading model completions.

pub mod interpreter;
