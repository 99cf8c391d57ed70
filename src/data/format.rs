//! [`Format`]: the three ways a solution can be written.

use serde::{Deserialize, Serialize};

/// The format of a written solution, after the paper's three sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// TinyGSM: a Python function `def simple_math_problem() -> int:`.
    Code,
    /// OpenMathInstruct-1: text, an `<llm-code>` block, its output, `\boxed{}`.
    CodeText,
    /// OpenMathInstruct-2: step-by-step prose ending in `\boxed{}`.
    Prose,
}

impl Format {
    /// Every format, in a fixed order used by tables and charts.
    pub const ALL: [Format; 3] = [Format::Code, Format::CodeText, Format::Prose];

    /// The name used in `.echo` files, metrics and reports.
    pub fn name(self) -> &'static str {
        match self {
            Format::Code => "code",
            Format::CodeText => "code_text",
            Format::Prose => "prose",
        }
    }

    /// The format named `name` in an `.echo` file, if any.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|format| format.name() == name)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.name())
    }
}
