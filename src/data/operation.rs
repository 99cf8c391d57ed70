//! [`Operation`]: the four arithmetic operations problems are built from.

use serde::{Deserialize, Serialize};

use super::Number;

/// A binary arithmetic operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `a + b`.
    Add,
    /// `a - b`.
    Subtract,
    /// `a * b`.
    Multiply,
    /// `a / b`, exact (Python's true division).
    Divide,
    /// `a // b`, Python's floor division: how whole-number problems divide,
    /// so that the emitted code stays in integers.
    FloorDivide,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 5] = [
        Operation::Add,
        Operation::Subtract,
        Operation::Multiply,
        Operation::Divide,
        Operation::FloorDivide,
    ];

    /// Applies the operation; `None` on division by zero or overflow.
    pub fn apply(self, left: Number, right: Number) -> Option<Number> {
        match self {
            Operation::Add => left.checked_add(right),
            Operation::Subtract => left.checked_subtract(right),
            Operation::Multiply => left.checked_multiply(right),
            Operation::Divide => left.checked_divide(right),
            Operation::FloorDivide => left.checked_floor_divide(right),
        }
    }

    /// The Python operator.
    pub fn python_symbol(self) -> &'static str {
        match self {
            Operation::Add => "+",
            Operation::Subtract => "-",
            Operation::Multiply => "*",
            Operation::Divide => "/",
            Operation::FloorDivide => "//",
        }
    }

    /// The operator written in prose (`48 / 2 = 24`).
    pub fn prose_symbol(self) -> &'static str {
        match self {
            Operation::Add => "+",
            Operation::Subtract => "-",
            Operation::Multiply => "*",
            Operation::Divide | Operation::FloorDivide => "/",
        }
    }

    /// Binding strength: 1 for `+ -`, 2 for `* / //`.
    pub fn precedence(self) -> u8 {
        match self {
            Operation::Add | Operation::Subtract => 1,
            Operation::Multiply | Operation::Divide | Operation::FloorDivide => 2,
        }
    }
}
