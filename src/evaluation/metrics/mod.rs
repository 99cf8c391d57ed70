//! Metrics the RL evaluation reports, as pure functions of grades.
//!
//! [`pass_at_k`] is the unbiased estimator of Chen et al. (2021);
//! [`majority_at_k`] is majority voting over extracted answers;
//! [`FormatTally`] gives the share of each format and the accuracy within it.

mod format_tally;
mod majority;
mod pass_at_k;

pub use format_tally::{FormatCount, FormatTally};
pub use majority::{majority_at_k, majority_vote};
pub use pass_at_k::{pass_at_k, MetricError};
