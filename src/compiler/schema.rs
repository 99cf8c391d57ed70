//! The types a field can have, and how a construct's fields are described.
//!
//! Every field of every construct is described once, in [`super::catalog`],
//! by a [`FieldSchema`]: its name, [`Type`], default and documentation.
//! Defaults are written in the `.echo` language itself and checked like user
//! input, so a default can never be of the wrong type, and the language
//! reference prints them exactly as a user would write them.

/// What a field accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Type {
    /// A whole number in `minimum..=maximum` (suffixes allowed, `%` not).
    Integer {
        /// Smallest allowed value.
        minimum: i64,
        /// Largest allowed value.
        maximum: i64,
    },
    /// Any number in the given interval.
    Number {
        /// Smallest allowed value.
        minimum: f64,
        /// Whether `minimum` itself is allowed.
        minimum_inclusive: bool,
        /// Largest allowed value.
        maximum: f64,
        /// Whether `maximum` itself is allowed.
        maximum_inclusive: bool,
    },
    /// `true` or `false`.
    Boolean,
    /// A string.
    Text,
    /// A path to a regular file, relative to the file that names it.
    File,
    /// A path to a folder, relative to the file that names it.
    Folder,
    /// One of a fixed set of names.
    Choice(&'static [&'static str]),
    /// `low..high` (or one whole number, meaning `n..n`) within bounds.
    IntegerRange {
        /// Smallest allowed value.
        minimum: i64,
        /// Largest allowed value.
        maximum: i64,
    },
    /// The name of a definition or stage of one of the given kinds.
    Reference(&'static [NameKind]),
    /// A source: the name of one, or a source call written in place.
    Source,
    /// A mixture: the name of one, or `a + 4 * b` written in place.
    Mixture,
    /// One of the given calls.
    Call(&'static [CallSchema]),
    /// A list of values of one type (at least one element).
    List(&'static Type),
    /// A pair `(a, b)`.
    Pair(&'static Type, &'static Type),
    /// An evaluation metric: `pass@k`, `maj@k` or one of the plain names.
    Metric,
    /// A number of steps: a whole number of steps, or a percentage of the
    /// stage's total steps (`2%`).
    Steps,
}

/// The kinds of named things a reference can point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameKind {
    /// `source`.
    Source,
    /// `mixture`.
    Mixture,
    /// `model`.
    Model,
    /// `pretrain`.
    Pretrain,
    /// `rl`.
    Rl,
    /// `eval`.
    Eval,
    /// `report`.
    Report,
}

impl NameKind {
    /// The keyword that defines this kind of name.
    pub fn keyword(self) -> &'static str {
        match self {
            NameKind::Source => "source",
            NameKind::Mixture => "mixture",
            NameKind::Model => "model",
            NameKind::Pretrain => "pretrain",
            NameKind::Rl => "rl",
            NameKind::Eval => "eval",
            NameKind::Report => "report",
        }
    }
}

/// Whether and how a field gets a value when the file does not write one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    /// The file must write it.
    Required,
    /// This value, written in the `.echo` language.
    Value(&'static str),
    /// No value: the field is absent from the checked model.
    Absent,
    /// Computed from other fields; the text says from what (for the docs).
    Derived(&'static str),
}

/// One field of a block or argument of a call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldSchema {
    /// Its name.
    pub name: &'static str,
    /// What it accepts.
    pub kind: Type,
    /// What it is when not written.
    pub default: Default,
    /// One sentence for the language reference.
    pub doc: &'static str,
}

/// A call such as `adamw(...)` or `synthetic(...)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallSchema {
    /// The function's name.
    pub name: &'static str,
    /// Its arguments.
    pub fields: &'static [FieldSchema],
    /// Whether arguments may also be given by position, in `fields` order.
    pub positional: bool,
    /// One sentence for the language reference.
    pub doc: &'static str,
}

impl CallSchema {
    /// The argument named `name`.
    pub fn field(&self, name: &str) -> Option<&'static FieldSchema> {
        self.fields.iter().find(|field| field.name == name)
    }
}

/// Shorthand for a field.
pub(super) const fn field(
    name: &'static str,
    kind: Type,
    default: Default,
    doc: &'static str,
) -> FieldSchema {
    FieldSchema {
        name,
        kind,
        default,
        doc,
    }
}

/// A number with an inclusive lower bound and no upper bound.
pub(super) const fn at_least(minimum: f64) -> Type {
    Type::Number {
        minimum,
        minimum_inclusive: true,
        maximum: f64::INFINITY,
        maximum_inclusive: false,
    }
}

/// A number strictly greater than `minimum`.
pub(super) const fn above(minimum: f64) -> Type {
    Type::Number {
        minimum,
        minimum_inclusive: false,
        maximum: f64::INFINITY,
        maximum_inclusive: false,
    }
}

/// A number in `[0, 1]`.
pub(super) const FRACTION: Type = Type::Number {
    minimum: 0.0,
    minimum_inclusive: true,
    maximum: 1.0,
    maximum_inclusive: true,
};

/// A whole number of at least `minimum`.
pub(super) const fn integer_from(minimum: i64) -> Type {
    Type::Integer {
        minimum,
        maximum: i64::MAX,
    }
}
