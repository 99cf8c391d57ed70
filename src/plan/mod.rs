//! The stage graph: a checked experiment as the stages that compute it.
//!
//! [`build`] turns a [`CheckedExperiment`](crate::compiler::CheckedExperiment)
//! into a [`Plan`]: one [`Stage`] per data source, tokenizer, pretraining run
//! (per replicate), RL run (per sweep point and replicate), evaluation (per
//! evaluated stage) and report. Stages that compute the same thing are one
//! stage: the pretraining shared by every KL value of a sweep appears once.
//!
//! Every stage has a [`StageKey`]: blake3 over a canonical, versioned
//! encoding of what can change its bytes (see [`key`]). Keys never see
//! comments, layout, declaration order, the spelling of numbers, the names
//! given to definitions, a default written out, an mtime or an absolute path
//! (but that of a file a source reads with `outside_project = true`).
//!
//! | in the key | why |
//! |---|---|
//! | `KEY_FORMAT` | the encoding itself |
//! | stage kind and its semantics version | what the stage's code computes |
//! | echolab's version, candle's version | the code that computes it |
//! | canonical parameters, defaults filled in | what the file asks for |
//! | upstream keys, by role | what it computes from |
//! | blake3 of every file it reads | the data it reads |

mod digest;
pub mod key;
mod planner;
mod stage;

pub use digest::{digest_bytes, digest_file, InputDigest};
pub use planner::{build, PlanError};
pub use stage::{Plan, Stage, StageKey, StageKind};
