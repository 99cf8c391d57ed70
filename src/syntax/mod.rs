//! Syntax: `.echo` text to a syntax tree, and back to canonical text.
//!
//! The grammar lives in `grammar/echo.pest`; [`parse`] runs it and builds the
//! [`ast`] with a [`Span`](crate::diagnostic::Span) on every node. Syntax
//! errors are turned into user words (never pest rule names) and the parser
//! recovers at the next statement, so one run reports every syntax error.
//! [`format`] prints a tree in the one canonical layout, keeping comments.
//! Nothing here knows what a field means: that is the compiler's job.

pub mod ast;
mod comments;
mod formatter;
mod number;
mod parser;
mod recovery;

pub use comments::{comments, Comment};
pub use formatter::format;
pub use number::parse_quantity;
pub use parser::{parse, parse_value, Parsed};
