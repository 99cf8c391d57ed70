//! [`InterpreterError`]: every way running model-written code can fail.
//!
//! Model output is untrusted, so every failure is a value, never a panic.
//! Errors about a place in the source carry its [`Position`].

/// A place in the source: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Position {
    /// The line, counting from 1.
    pub line: u32,
    /// The column in characters, counting from 1.
    pub column: u32,
}

impl std::fmt::Display for Position {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}:{}", self.line, self.column)
    }
}

/// Why a program could not be run to the end.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InterpreterError {
    /// The source is longer than [`Limits::max_source_bytes`](super::Limits).
    #[error("source is {length} bytes, more than the limit of {limit}")]
    SourceTooLong {
        /// The source's length in bytes.
        length: usize,
        /// The limit it broke.
        limit: usize,
    },
    /// The source is not in the supported subset of Python.
    #[error("syntax error at {at}: {message}")]
    Syntax {
        /// What is wrong, in lowercase.
        message: String,
        /// Where.
        at: Position,
    },
    /// Expressions, parentheses or calls nest deeper than
    /// [`Limits::max_depth`](super::Limits).
    #[error("nesting deeper than {limit} at {at}")]
    TooDeep {
        /// The limit it broke.
        limit: u32,
        /// Where.
        at: Position,
    },
    /// The program took more steps than [`Limits::max_steps`](super::Limits).
    #[error("step budget of {limit} exceeded")]
    BudgetExceeded {
        /// The budget.
        limit: u64,
    },
    /// `print` wrote more than [`Limits::max_output_bytes`](super::Limits).
    #[error("printed output exceeds {limit} bytes")]
    OutputTooLong {
        /// The limit it broke.
        limit: usize,
    },
    /// A name that is neither assigned nor a builtin.
    #[error("name `{name}` is not defined at {at}")]
    UnknownName {
        /// The name.
        name: String,
        /// Where it was read.
        at: Position,
    },
    /// A function's local variable read before the function assigned it.
    #[error("local variable `{name}` referenced before assignment at {at}")]
    UnboundLocal {
        /// The name.
        name: String,
        /// Where it was read.
        at: Position,
    },
    /// Division or modulo by zero, or zero to a negative power.
    #[error("division by zero at {at}")]
    DivisionByZero {
        /// Where.
        at: Position,
    },
    /// A result outside the 64-bit integer range, or a float result that is
    /// not finite.
    #[error("`{operation}` overflows at {at}")]
    Overflow {
        /// The operation, as written in Python (`**`, `int`, ...).
        operation: String,
        /// Where.
        at: Position,
    },
    /// An operation applied to values of the wrong type.
    #[error("type error at {at}: {message}")]
    Type {
        /// What is wrong, in lowercase.
        message: String,
        /// Where.
        at: Position,
    },
    /// A value of the right type that the operation cannot take (`min` of an
    /// empty list, `int("x")`).
    #[error("value error at {at}: {message}")]
    Value {
        /// What is wrong, in lowercase.
        message: String,
        /// Where.
        at: Position,
    },
    /// A function called with the wrong number of arguments.
    #[error("`{function}` takes {expected} arguments but {found} were given at {at}")]
    Arity {
        /// The function's name.
        function: String,
        /// How many it takes, in words (`1`, `1 or 2`, ...).
        expected: String,
        /// How many it was given.
        found: usize,
        /// Where.
        at: Position,
    },
    /// [`run_function`](super::run_function) found no function to call.
    #[error("no function `{name}` is defined")]
    NoFunction {
        /// The function asked for, or `def` when any would have done.
        name: String,
    },
}
