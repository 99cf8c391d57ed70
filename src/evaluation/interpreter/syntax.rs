//! The syntax tree of the supported Python subset.
//!
//! Every expression records its depth (1 for a leaf), so the parser can
//! refuse trees deeper than [`Limits::max_depth`](super::Limits): evaluating
//! and dropping a tree both recurse, and their stack use must stay bounded.

use std::collections::HashSet;
use std::rc::Rc;

use super::error::Position;

/// A parsed program: the statements at module level.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// The statements, in order.
    pub statements: Vec<Statement>,
}

/// A statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// An expression evaluated for its value (a docstring, a call, the
    /// last line of a `code_text` block).
    Expression(Expression),
    /// `a = b = value`.
    Assign {
        /// The names assigned, left to right.
        targets: Vec<String>,
        /// The value.
        value: Expression,
    },
    /// `name += value` and the other augmented assignments.
    AugmentedAssign {
        /// The name updated.
        target: String,
        /// The operator applied.
        operator: BinaryOperator,
        /// The right-hand side.
        value: Expression,
        /// Where the statement starts.
        at: Position,
    },
    /// `def name(parameters): body`.
    FunctionDefinition(Rc<Function>),
    /// `return` with an optional value.
    Return(Option<Expression>),
    /// `pass`.
    Pass,
}

/// A function definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// Its name.
    pub name: String,
    /// Its parameters' names.
    pub parameters: Vec<String>,
    /// Its body.
    pub body: Vec<Statement>,
    /// Every name the body assigns plus the parameters: Python treats these
    /// as local throughout the function.
    pub locals: HashSet<String>,
}

/// An expression with its position and depth.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    /// What it is.
    pub kind: ExpressionKind,
    /// Where it starts.
    pub at: Position,
    /// 1 for a leaf, else one more than its deepest child.
    pub depth: u32,
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpressionKind {
    /// An integer literal.
    Integer(i64),
    /// A float literal.
    Float(f64),
    /// A string literal (adjacent literals already joined).
    String(Rc<str>),
    /// A name.
    Name(String),
    /// A list display `[a, b]`.
    List(Vec<Expression>),
    /// `-x` or `+x`.
    Unary {
        /// The operator.
        operator: UnaryOperator,
        /// The operand.
        operand: Box<Expression>,
    },
    /// `left operator right`.
    Binary {
        /// The operator.
        operator: BinaryOperator,
        /// The left operand.
        left: Box<Expression>,
        /// The right operand.
        right: Box<Expression>,
    },
    /// `function(arguments)`.
    Call {
        /// The expression called.
        function: Box<Expression>,
        /// The positional arguments.
        arguments: Vec<Expression>,
    },
}

/// A unary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOperator {
    /// `-x`.
    Negate,
    /// `+x`.
    Plus,
}

/// A binary arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOperator {
    /// `+`.
    Add,
    /// `-`.
    Subtract,
    /// `*`.
    Multiply,
    /// `/`, true division.
    Divide,
    /// `//`, floor division.
    FloorDivide,
    /// `%`, modulo with the divisor's sign.
    Modulo,
    /// `**`.
    Power,
}

impl BinaryOperator {
    /// The operator as written in Python.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOperator::Add => "+",
            BinaryOperator::Subtract => "-",
            BinaryOperator::Multiply => "*",
            BinaryOperator::Divide => "/",
            BinaryOperator::FloorDivide => "//",
            BinaryOperator::Modulo => "%",
            BinaryOperator::Power => "**",
        }
    }
}
