//! [`Value`]: a checked, normalised value, the compiler's output.
//!
//! Values carry no spans and no spelling: `50k` and `50_000` are the same
//! `Integer(50000)`, a default written out equals the default left out.
//! They serialize to plain JSON (a call is an object with its `kind`), which
//! is what stage keys hash and what typed stage configurations deserialize.

use std::collections::BTreeMap;
use std::fmt;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// A checked value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A whole number.
    Integer(i64),
    /// A number.
    Number(f64),
    /// `true` or `false`.
    Boolean(bool),
    /// A string or a path.
    Text(String),
    /// One of a fixed set of names (`code`, `gelu`, `k3`).
    Symbol(String),
    /// `low..high`, inclusive.
    Range(i64, i64),
    /// The name of a definition or stage.
    Reference(String),
    /// `a + 4 * b`: terms in file order.
    Mixture(Vec<MixtureTerm>),
    /// A call with every argument filled in.
    Call(String, BTreeMap<String, Value>),
    /// A block's fields.
    Record(BTreeMap<String, Value>),
    /// A list.
    List(Vec<Value>),
    /// A tuple such as `(0.9, 0.95)`.
    Tuple(Vec<Value>),
    /// A metric such as `pass@8` (`k` is 0 for metrics without one).
    Metric(String, i64),
    /// A number of steps, or a fraction of all steps.
    Steps(StepCount),
}

/// A number of steps as written: absolute, or relative to the total.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepCount {
    /// Whole steps.
    Absolute(i64),
    /// A fraction of the stage's steps.
    Fraction(f64),
}

/// `weight * source` in a mixture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixtureTerm {
    /// The source's name.
    pub source: String,
    /// Its repeat weight.
    pub weight: f64,
}

impl Value {
    /// The field `name` of a record or argument of a call.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Record(fields) | Value::Call(_, fields) => fields.get(name),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Value::Integer(value) => Some(*value),
            _ => None,
        }
    }

    /// The number, if this is an integer or a number.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Integer(value) => Some(*value as f64),
            Value::Number(value) => Some(*value),
            _ => None,
        }
    }

    /// The text of a symbol, reference or text value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Symbol(text) | Value::Reference(text) | Value::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The name of a call.
    pub fn call_name(&self) -> Option<&str> {
        match self {
            Value::Call(name, _) => Some(name),
            _ => None,
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Integer(value) => serializer.serialize_i64(*value),
            Value::Number(value) => serializer.serialize_f64(*value),
            Value::Boolean(value) => serializer.serialize_bool(*value),
            Value::Text(text) | Value::Symbol(text) | Value::Reference(text) => {
                serializer.serialize_str(text)
            }
            Value::Range(low, high) => [low, high].serialize(serializer),
            Value::Mixture(terms) => terms.serialize(serializer),
            Value::Call(name, arguments) => {
                let mut map = serializer.serialize_map(Some(arguments.len() + 1))?;
                map.serialize_entry("kind", name)?;
                for (key, value) in arguments {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            Value::Record(fields) => fields.serialize(serializer),
            Value::List(items) | Value::Tuple(items) => {
                let mut sequence = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    sequence.serialize_element(item)?;
                }
                sequence.end()
            }
            Value::Metric(..) => serializer.serialize_str(&self.to_string()),
            Value::Steps(StepCount::Absolute(steps)) => serializer.serialize_i64(*steps),
            Value::Steps(StepCount::Fraction(fraction)) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("fraction", fraction)?;
                map.end()
            }
        }
    }
}

/// Writes a number the way the language would: shortest round-trip text,
/// whole numbers without a fraction (`1`, `0.001`, `1e-8`).
pub fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        // Debug is Rust's shortest round-trip form: `0.001`, `1e-8`.
        format!("{value:?}")
    }
}

impl fmt::Display for Value {
    /// The value in `.echo` syntax (canonical spelling), for sweep labels,
    /// `explain` and error messages.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Integer(value) => write!(formatter, "{value}"),
            Value::Number(value) => formatter.write_str(&format_number(*value)),
            Value::Boolean(value) => write!(formatter, "{value}"),
            Value::Text(text) => write!(formatter, "{text:?}"),
            Value::Symbol(text) | Value::Reference(text) => formatter.write_str(text),
            Value::Range(low, high) => write!(formatter, "{low}..{high}"),
            Value::Mixture(terms) => {
                for (index, term) in terms.iter().enumerate() {
                    if index > 0 {
                        formatter.write_str(" + ")?;
                    }
                    if term.weight == 1.0 {
                        formatter.write_str(&term.source)?;
                    } else {
                        let weight = format_number(term.weight);
                        let weight = weight.strip_suffix(".0").unwrap_or(&weight);
                        write!(formatter, "{weight} * {}", term.source)?;
                    }
                }
                Ok(())
            }
            // One argument reads best by position: `constant(0.01)`.
            Value::Call(name, arguments) if arguments.len() == 1 => {
                let value = arguments
                    .values()
                    .next()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                write!(formatter, "{name}({value})")
            }
            Value::Call(name, arguments) => {
                write!(formatter, "{name}(")?;
                for (index, (key, value)) in arguments.iter().enumerate() {
                    if index > 0 {
                        formatter.write_str(", ")?;
                    }
                    write!(formatter, "{key} = {value}")?;
                }
                formatter.write_str(")")
            }
            Value::Record(fields) => {
                formatter.write_str("{ ")?;
                for (key, value) in fields {
                    write!(formatter, "{key} = {value} ")?;
                }
                formatter.write_str("}")
            }
            Value::List(items) => {
                formatter.write_str("[")?;
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        formatter.write_str(", ")?;
                    }
                    write!(formatter, "{item}")?;
                }
                formatter.write_str("]")
            }
            Value::Tuple(items) => {
                formatter.write_str("(")?;
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        formatter.write_str(", ")?;
                    }
                    write!(formatter, "{item}")?;
                }
                formatter.write_str(")")
            }
            Value::Metric(name, 0) => formatter.write_str(name),
            Value::Metric(name, k) => write!(formatter, "{name}@{k}"),
            Value::Steps(StepCount::Absolute(steps)) => write!(formatter, "{steps}"),
            Value::Steps(StepCount::Fraction(fraction)) => {
                write!(
                    formatter,
                    "{}%",
                    format_number(fraction * 100.0).trim_end_matches(".0")
                )
            }
        }
    }
}
