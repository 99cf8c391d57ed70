//! [`Change`]: why a lock is out of date, as a typed reason rendered in words.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{Lockfile, StageRecord};
use crate::plan::{InputDigest, Plan, Stage};

/// One way a plan differs from its lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A stage the lock does not have.
    StageAdded {
        /// The stage.
        stage: String,
    },
    /// A stage the lock has but the plan no longer does.
    StageRemoved {
        /// The stage.
        stage: String,
    },
    /// A parameter of a stage changed value.
    ParameterChanged {
        /// The stage.
        stage: String,
        /// The parameter's path (`temperature`, `algorithm.clip`).
        parameter: String,
        /// The locked value, `none` if it was absent.
        old: String,
        /// The new value, `none` if it is absent.
        new: String,
    },
    /// A file a stage reads changed.
    InputChanged {
        /// The file.
        path: String,
        /// The locked blake3.
        old: String,
        /// The file's blake3 now.
        new: String,
    },
    /// A stage it reads from changed.
    UpstreamChanged {
        /// The stage.
        stage: String,
        /// The role of the upstream stage (`from`, `data.0`).
        role: String,
        /// The upstream stage's name.
        upstream: String,
    },
    /// A file is read now that the lock does not record, or the lock
    /// records one no stage reads.
    InputListed {
        /// The file.
        path: String,
        /// Whether the plan reads it (else only the lock lists it).
        read_now: bool,
    },
    /// A field of a stage's record differs from what the experiment gives
    /// although nothing it is computed from does: the lockfile was edited.
    RecordEdited {
        /// The stage.
        stage: String,
        /// The field (`key`, `kind`).
        field: &'static str,
        /// The recorded value.
        old: String,
        /// The value the experiment gives.
        new: String,
    },
    /// The lockfile's content differs from what `echolab lock` writes in a
    /// way no other change names (its experiment's name, say).
    Rewritten {
        /// What differs.
        what: String,
    },
    /// The code that computes it changed version.
    VersionChanged {
        /// The stage.
        stage: String,
        /// What changed (`echolab`, `candle`, or the stage kind's semantics).
        what: String,
        /// The locked version.
        old: String,
        /// The version now.
        new: String,
    },
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(6)]
}

impl fmt::Display for Change {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::StageAdded { stage } => write!(formatter, "stage `{stage}` is new"),
            Change::StageRemoved { stage } => {
                write!(formatter, "stage `{stage}` is no longer in the experiment")
            }
            Change::ParameterChanged {
                stage,
                parameter,
                old,
                new,
            } => {
                write!(
                    formatter,
                    "stage `{stage}` parameter `{parameter}` {old} -> {new}"
                )
            }
            Change::InputChanged { path, old, new } => {
                write!(
                    formatter,
                    "input `{path}` changed: blake3 {}.. -> {}..",
                    short(old),
                    short(new)
                )
            }
            Change::InputListed {
                path,
                read_now: true,
            } => write!(formatter, "input `{path}` is read but not recorded"),
            Change::InputListed {
                path,
                read_now: false,
            } => write!(formatter, "input `{path}` is recorded but no longer read"),
            Change::RecordEdited {
                stage,
                field,
                old,
                new,
            } => write!(
                formatter,
                "stage `{stage}`: the recorded `{field}` {old} is not what the experiment gives ({new}); the lockfile was edited"
            ),
            Change::Rewritten { what } => write!(
                formatter,
                "{what} differs from what `echolab lock` writes"
            ),
            Change::UpstreamChanged {
                stage,
                role,
                upstream,
            } => write!(
                formatter,
                "stage `{stage}` reads `{upstream}` (as `{role}`), which changed"
            ),
            Change::VersionChanged {
                stage,
                what,
                old,
                new,
            } => write!(formatter, "stage `{stage}`: {what} {old} -> {new}"),
        }
    }
}

/// Every difference between `lock` and what `echolab lock` would write
/// for `plan` (its outputs aside, which only a run can check), stages in
/// plan order: every field of every stage is compared, whether or not its
/// key changed, so a hand edit of a key, an upstream key, a parameter or
/// an input is named too. Empty exactly when the lock is up to date.
pub fn changes(lock: &Lockfile, plan: &Plan) -> Vec<Change> {
    let mut found = Vec::new();
    let inputs = plan.inputs();
    input_changes(&lock.inputs, &inputs, &mut found);
    for stage in &plan.stages {
        match lock.stages.get(&stage.name) {
            None => found.push(Change::StageAdded {
                stage: stage.name.clone(),
            }),
            Some(record) => {
                for change in stage_changes(lock, record, stage, plan) {
                    if !found.contains(&change) {
                        found.push(change);
                    }
                }
            }
        }
    }
    let names: BTreeSet<&str> = plan
        .stages
        .iter()
        .map(|stage| stage.name.as_str())
        .collect();
    for name in lock.stages.keys() {
        if !names.contains(name.as_str()) {
            found.push(Change::StageRemoved {
                stage: name.clone(),
            });
        }
    }
    if lock.experiment != plan.experiment {
        found.push(Change::Rewritten {
            what: format!(
                "the experiment's name `{}` (the experiment is `{}`)",
                lock.experiment, plan.experiment
            ),
        });
    }
    if found.is_empty() {
        let expected = Lockfile::from_plan(plan, lock.provenance.clone(), Some(lock));
        if !lock.same_content(&expected) {
            found.push(Change::Rewritten {
                what: "the lockfile's content".to_string(),
            });
        }
    }
    found
}

/// Every way the record of `stage` in `lock` differs from the stage in
/// `plan`: why its key changed, or, when nothing it is computed from
/// changed but the record still differs, which field was edited.
pub fn stage_changes(
    lock: &Lockfile,
    record: &StageRecord,
    stage: &Stage,
    plan: &Plan,
) -> Vec<Change> {
    let mut found = Vec::new();
    let name = &stage.name;
    if record.kind != stage.kind {
        found.push(Change::RecordEdited {
            stage: name.clone(),
            field: "kind",
            old: record.kind.to_string(),
            new: stage.kind.to_string(),
        });
    }
    if record.semantics != stage.kind.semantics_version() {
        found.push(Change::VersionChanged {
            stage: name.clone(),
            what: format!("`{}` stage semantics", stage.kind),
            old: record.semantics.to_string(),
            new: stage.kind.semantics_version().to_string(),
        });
    }
    let key_changed = record.key != stage.key;
    if key_changed && lock.provenance.echolab != env!("CARGO_PKG_VERSION") {
        found.push(Change::VersionChanged {
            stage: name.clone(),
            what: "echolab".to_string(),
            old: lock.provenance.echolab.clone(),
            new: env!("CARGO_PKG_VERSION").to_string(),
        });
    }
    if key_changed && lock.provenance.candle != crate::plan::key::CANDLE_VERSION {
        found.push(Change::VersionChanged {
            stage: name.clone(),
            what: "candle".to_string(),
            old: lock.provenance.candle.clone(),
            new: crate::plan::key::CANDLE_VERSION.to_string(),
        });
    }
    let mut differences = Vec::new();
    diff_json("", &record.parameters, &stage.parameters, &mut differences);
    for (parameter, old, new) in differences {
        found.push(Change::ParameterChanged {
            stage: name.clone(),
            parameter,
            old,
            new,
        });
    }
    input_changes(&record.inputs, &stage.inputs, &mut found);
    let roles: BTreeSet<&String> = record
        .upstream
        .keys()
        .chain(stage.upstream.keys())
        .collect();
    for role in roles {
        if record.upstream.get(role) != stage.upstream.get(role) {
            let upstream = stage
                .upstream
                .get(role)
                .and_then(|key| plan.stage(key))
                .map_or_else(
                    || "a removed stage".to_string(),
                    |upstream| upstream.name.clone(),
                );
            found.push(Change::UpstreamChanged {
                stage: name.clone(),
                role: role.clone(),
                upstream,
            });
        }
    }
    if key_changed && found.is_empty() {
        found.push(Change::RecordEdited {
            stage: name.clone(),
            field: "key",
            old: format!("{}..", record.key.short()),
            new: format!("{}..", stage.key.short()),
        });
    }
    found
}

/// The files read now (`current`) against those `locked`: changed,
/// read but not recorded, recorded but no longer read.
fn input_changes(
    locked: &BTreeMap<String, InputDigest>,
    current: &BTreeMap<String, InputDigest>,
    found: &mut Vec<Change>,
) {
    for (path, digest) in current {
        match locked.get(path) {
            Some(old) if old != digest => found.push(Change::InputChanged {
                path: path.clone(),
                old: old.blake3.clone(),
                new: digest.blake3.clone(),
            }),
            Some(_) => {}
            None => found.push(Change::InputListed {
                path: path.clone(),
                read_now: true,
            }),
        }
    }
    for path in locked.keys() {
        if !current.contains_key(path) {
            found.push(Change::InputListed {
                path: path.clone(),
                read_now: false,
            });
        }
    }
}

/// Leaf differences between two JSON values, as `(path, old, new)`. The
/// first level of a stage's parameters (`training`, `evaluation`, `source`)
/// is a container, not a parameter, and is left out of the path.
fn diff_json(
    path: &str,
    old: &serde_json::Value,
    new: &serde_json::Value,
    out: &mut Vec<(String, String, String)>,
) {
    use serde_json::Value;
    let container = |key: &str| matches!(key, "training" | "evaluation" | "source" | "report");
    let join = |key: &str| {
        if path.is_empty() {
            if container(key) {
                String::new()
            } else {
                key.to_string()
            }
        } else {
            format!("{path}.{key}")
        }
    };
    match (old, new) {
        (Value::Object(old_map), Value::Object(new_map)) => {
            let keys: BTreeSet<&String> = old_map.keys().chain(new_map.keys()).collect();
            for key in keys {
                let child = join(key);
                match (old_map.get(key), new_map.get(key)) {
                    (Some(a), Some(b)) => diff_json(&child, a, b, out),
                    (Some(a), None) => out.push((child, a.to_string(), "none".to_string())),
                    (None, Some(b)) => out.push((child, "none".to_string(), b.to_string())),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a != b => {
            let name = if path.is_empty() {
                "value".to_string()
            } else {
                path.to_string()
            };
            out.push((name, a.to_string(), b.to_string()));
        }
        _ => {}
    }
}
