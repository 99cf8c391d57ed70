//! Stage keys: what is hashed, and how.
//!
//! The key is blake3 over the JSON of [`KeyMaterial`]. serde_json writes
//! object keys sorted (its maps are `BTreeMap`s) and floats in their shortest
//! round-trip form, so the encoding is canonical. [`KEY_FORMAT`] versions
//! the encoding itself: change it, and every key changes on purpose.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{InputDigest, StageKey, StageKind};

/// Version of the key encoding. Bump on any change to [`KeyMaterial`].
pub const KEY_FORMAT: u32 = 1;

/// The version of candle echolab is built with (checked against
/// `Cargo.lock` by a test): its kernels decide the bits of every model.
pub const CANDLE_VERSION: &str = "0.11.1";

/// Everything a stage key covers.
#[derive(Debug, Serialize)]
pub struct KeyMaterial<'a> {
    /// [`KEY_FORMAT`].
    pub key_format: u32,
    /// The stage kind.
    pub kind: StageKind,
    /// The kind's semantics version.
    pub semantics: u32,
    /// echolab's version.
    pub echolab: &'a str,
    /// Versions of the numeric libraries.
    pub libraries: BTreeMap<&'static str, &'static str>,
    /// Canonical parameters.
    pub parameters: &'a serde_json::Value,
    /// Upstream keys by role.
    pub upstream: &'a BTreeMap<String, StageKey>,
    /// Digests of the files read, by relative path.
    pub inputs: &'a BTreeMap<String, InputDigest>,
}

/// The key of a stage with these parameters, upstream stages and inputs.
pub fn stage_key(
    kind: StageKind,
    parameters: &serde_json::Value,
    upstream: &BTreeMap<String, StageKey>,
    inputs: &BTreeMap<String, InputDigest>,
) -> StageKey {
    let material = KeyMaterial {
        key_format: KEY_FORMAT,
        kind,
        semantics: kind.semantics_version(),
        echolab: env!("CARGO_PKG_VERSION"),
        libraries: libraries(),
        parameters,
        upstream,
        inputs,
    };
    // Serialising plain data into a Vec cannot fail.
    let bytes = serde_json::to_vec(&material).unwrap_or_default();
    StageKey(blake3::hash(&bytes).to_hex().to_string())
}

/// The numeric libraries whose versions are in every key.
pub fn libraries() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([("candle", CANDLE_VERSION)])
}
