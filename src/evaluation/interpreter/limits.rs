//! [`Limits`]: the resources one run of the interpreter may use.

/// Bounds on one run, so model-written code cannot hang or exhaust memory.
///
/// Number magnitudes are bounded by the value types themselves: integers
/// are 64-bit and a result outside that range is an
/// [`Overflow`](super::InterpreterError::Overflow) error; float results must
/// be finite, or the same error is raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted source, in bytes.
    pub max_source_bytes: usize,
    /// Steps allowed: one per statement executed, one per expression node
    /// evaluated, one per list element a builtin visits.
    pub max_steps: u64,
    /// Deepest nesting of parentheses, operators and calls, at parse time
    /// and at run time. It also bounds the interpreter's own stack use.
    pub max_depth: u32,
    /// Most bytes `print` may write.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    /// Generous for grade-school solutions (a TinyGSM function takes a few
    /// dozen steps) and small enough to run thousands of completions a second.
    fn default() -> Self {
        Limits {
            max_source_bytes: 64 * 1024,
            max_steps: 100_000,
            max_depth: 100,
            max_output_bytes: 16 * 1024,
        }
    }
}
