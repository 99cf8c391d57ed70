//! The lockfile: `lockfiles/<experiment>.lock`, what a reviewer checks.
//!
//! A TOML file with an `@generated` header, written canonically (tables and
//! keys sorted, paths relative, no timestamps), so that locking twice writes
//! the same bytes and an unchanged lock is not written at all:
//!
//! ```toml
//! version = 1                 # breaking changes to the format
//! revision = 0                # additive changes: older readers still read it
//! experiment = "echo_chamber"
//!
//! [provenance]                # where the lock was made (not compared)
//! echolab = "0.1.0"
//! candle = "0.11.1"
//! commit = "1f2e..."          # git commit of the project, via git2
//! dirty = false               # uncommitted changes outside lockfiles/
//! platform = "x86_64-linux"
//!
//! [inputs."data/problems.jsonl"]   # every file any stage reads
//! blake3 = "3730d3..."
//! size = 5120
//!
//! [stages."tuned[kl=constant(0.01)]"]  # one table per stage: merges stay clean
//! key = "9f1e2a..."
//! kind = "rl"
//! semantics = 1
//! upstream = { from = "b10394...", prompts = "c0b4cc...", tokenizer = "092673..." }
//! [stages."tuned[kl=constant(0.01)]".parameters]   # canonical, defaults filled
//! ...
//! [stages."tuned[kl=constant(0.01)]".outputs]      # once the stage has run
//! "model.safetensors" = "5d41a4..."
//! ```
//!
//! Versioning policy (as uv's): `version` changes when an older echolab
//! would misread the file; a reader refuses a newer `version` with a precise
//! message. `revision` changes when fields are only added; a reader of an
//! older revision ignores what it does not know. There is no whole-file hash.

mod change;
#[expect(
    clippy::module_inception,
    reason = "one concept per file, named after its type: `Lockfile`"
)]
mod lockfile;
mod provenance;

pub use change::{changes, stage_changes, Change};
pub use lockfile::{Lockfile, LockfileError, StageRecord, LOCKFILE_REVISION, LOCKFILE_VERSION};
pub use provenance::Provenance;
