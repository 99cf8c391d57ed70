//! Evaluation: grading model completions.

pub mod interpreter;
pub mod answer;
