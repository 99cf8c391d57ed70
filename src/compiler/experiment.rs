//! The compiler's output: a checked, normalised experiment and its sweep points.

use std::collections::BTreeMap;

use serde::Serialize;

use super::schema::NameKind;
use super::value::Value;

/// One experiment with every default filled in and every name resolved.
///
/// Nothing here depends on how the file was written: comments, layout,
/// declaration order and defaults written out give the same `Experiment`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Experiment {
    /// The experiment's name.
    pub name: String,
    /// The seed every random number derives from.
    pub seed: i64,
    /// How many seeds each training stage runs with.
    pub replicates: i64,
    /// Free text for reports.
    pub description: Option<String>,
    /// Every definition and stage, by name.
    pub definitions: BTreeMap<String, Definition>,
}

/// A named definition or stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Definition {
    /// What it is.
    pub kind: NameKind,
    /// Its checked value: a call for sources and models, a mixture, or a
    /// record of a stage's fields.
    pub value: Value,
}

impl Experiment {
    /// The definitions of one kind, by name.
    pub fn of_kind(&self, kind: NameKind) -> impl Iterator<Item = (&String, &Value)> {
        self.definitions
            .iter()
            .filter(move |(_, definition)| definition.kind == kind)
            .map(|(name, definition)| (name, &definition.value))
    }

    /// The value of the definition `name`.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.definitions
            .get(name)
            .map(|definition| &definition.value)
    }
}

/// One point of the experiment's sweep: the values it assigns and the
/// experiment with them applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPoint {
    /// `(path, value)` for each swept parameter, in sweep order.
    pub assignments: Vec<(String, Value)>,
    /// The experiment at this point.
    pub experiment: Experiment,
}

impl SweepPoint {
    /// `kl=constant(0.01),temperature=0.7`-style label; empty without sweeps.
    pub fn label(&self) -> String {
        self.assignments
            .iter()
            .map(|(path, value)| {
                let short = path.rsplit('.').next().unwrap_or(path);
                format!("{short}={value}")
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A checked experiment: the base (no sweep applied) and every sweep point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckedExperiment {
    /// The experiment as written, without sweeps.
    pub base: Experiment,
    /// Every point of the sweep; a single point with no assignments when the
    /// experiment has no sweep.
    pub points: Vec<SweepPoint>,
}
