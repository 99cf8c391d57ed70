//! The syntax tree of an `.echo` file, every node with its span.

use crate::diagnostic::Span;

/// A name as written, with its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Identifier {
    /// The text of the name.
    pub text: String,
    /// Where it is.
    pub span: Span,
}

/// A whole file.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceFile {
    /// Its items, in file order.
    pub items: Vec<Item>,
}

/// A top-level item.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `use "shared.echo"`.
    Use(Use),
    /// `experiment name { ... }`.
    Experiment(Experiment),
    /// A definition outside any experiment, shared through `use`.
    Statement(Statement),
}

/// `use "path"`: brings the top-level definitions of another file in.
#[derive(Debug, Clone, PartialEq)]
pub struct Use {
    /// The path as written, relative to the file that uses it.
    pub path: String,
    /// The span of the string literal.
    pub path_span: Span,
    /// The whole item.
    pub span: Span,
}

/// `experiment name { statements }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// The experiment's name.
    pub name: Identifier,
    /// Its statements, in file order.
    pub statements: Vec<Statement>,
    /// The whole block.
    pub span: Span,
}

/// A statement inside an experiment (or at the top level of a shared file).
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `source|mixture|model name = value`.
    Definition(Definition),
    /// `pretrain|rl|eval|report [name] { fields }`.
    Stage(Stage),
    /// `sweep path = [...]` or `sweep zip { ... }`.
    Sweep(Sweep),
    /// `name = value`: an experiment setting such as `seed`.
    Setting(Field),
}

impl Statement {
    /// The span of the whole statement.
    pub fn span(&self) -> Span {
        match self {
            Statement::Definition(definition) => definition.span,
            Statement::Stage(stage) => stage.span,
            Statement::Sweep(sweep) => sweep.span,
            Statement::Setting(field) => field.span,
        }
    }
}

/// What a definition defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DefinitionKind {
    /// A data source.
    Source,
    /// A mixture of sources with repeat weights.
    Mixture,
    /// A model architecture.
    Model,
}

impl DefinitionKind {
    /// The keyword that introduces it.
    pub fn keyword(self) -> &'static str {
        match self {
            DefinitionKind::Source => "source",
            DefinitionKind::Mixture => "mixture",
            DefinitionKind::Model => "model",
        }
    }
}

/// `source|mixture|model name = value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// Which keyword.
    pub kind: DefinitionKind,
    /// The defined name.
    pub name: Identifier,
    /// Its value.
    pub value: Expression,
    /// The whole statement.
    pub span: Span,
}

/// The kind of a stage block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StageKind {
    /// `pretrain`: train a model from scratch on a mixture.
    Pretrain,
    /// `rl`: fine-tune a checkpoint with reinforcement learning.
    Rl,
    /// `eval`: measure models on evaluation sets.
    Eval,
    /// `report`: charts and tables of the results.
    Report,
}

impl StageKind {
    /// The keyword that introduces it.
    pub fn keyword(self) -> &'static str {
        match self {
            StageKind::Pretrain => "pretrain",
            StageKind::Rl => "rl",
            StageKind::Eval => "eval",
            StageKind::Report => "report",
        }
    }
}

/// `pretrain|rl|eval|report [name] { fields }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Which keyword.
    pub kind: StageKind,
    /// The keyword's span (where an unnamed stage is pointed at).
    pub keyword_span: Span,
    /// The stage's name; `eval` and `report` may omit it.
    pub name: Option<Identifier>,
    /// Its fields, in file order.
    pub fields: Vec<Field>,
    /// The whole statement.
    pub span: Span,
}

/// A sweep statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// One axis (a grid dimension) or several zipped together.
    pub axes: Vec<SweepAxis>,
    /// Whether the axes advance together (`zip`) rather than as a single axis.
    pub zipped: bool,
    /// The whole statement.
    pub span: Span,
}

/// `path = [values]` inside a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepAxis {
    /// The parameter swept, e.g. `tuned.kl` or `tuned.algorithm.clip`.
    pub path: Vec<Identifier>,
    /// The span of the whole path.
    pub path_span: Span,
    /// The values it takes.
    pub values: Vec<Expression>,
    /// The span of the list.
    pub list_span: Span,
    /// The whole axis.
    pub span: Span,
}

/// `name = value` inside a block, or as a setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The field's name.
    pub name: Identifier,
    /// Its value.
    pub value: Expression,
    /// The whole field.
    pub span: Span,
}

/// A value with its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    /// What it is.
    pub kind: ExpressionKind,
    /// Where it is.
    pub span: Span,
}

/// A number as written, with its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    /// The text as written (`8M`, `1e-3`, `5%`).
    pub text: String,
    /// The value with the suffix applied (`8M` is 8e6, `5%` is 0.05).
    pub value: f64,
    /// Whether it was written with `%`.
    pub percent: bool,
    /// Whether it was written as a whole number (no `.` or exponent) and its
    /// value is whole.
    pub whole: bool,
}

/// `name(arguments)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The function's name.
    pub name: Identifier,
    /// Its arguments in order.
    pub arguments: Vec<Argument>,
}

/// One argument of a call: `name = value` or a bare positional value.
#[derive(Debug, Clone, PartialEq)]
pub struct Argument {
    /// The name, for a named argument.
    pub name: Option<Identifier>,
    /// The value.
    pub value: Expression,
    /// The whole argument.
    pub span: Span,
}

/// The kinds of value.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpressionKind {
    /// A number, possibly with a suffix.
    Quantity(Quantity),
    /// A string literal (escapes resolved).
    String(String),
    /// `start..end`, both whole numbers, inclusive.
    Range(i64, i64),
    /// `name@k`, such as `pass@8`.
    Metric(Identifier, i64),
    /// A name or dotted path: `base`, `code`, `tuned.kl`.
    Path(Vec<Identifier>),
    /// `name(arguments)`.
    Call(Call),
    /// `[a, b, c]`.
    List(Vec<Expression>),
    /// `(a, b)`.
    Tuple(Vec<Expression>),
    /// `a + b + c`: a mixture.
    Sum(Vec<Expression>),
    /// `a * b`: a weighted mixture term.
    Product(Box<Expression>, Box<Expression>),
}
