//! [`Observer`]: how a training stage reports progress to whoever runs it
//! (the runtime draws progress bars; tests stay silent).

use std::time::Duration;

/// One completed optimizer step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// Steps completed (the step just taken, counted from 1).
    pub step: u64,
    /// Steps the run takes in all.
    pub total_steps: u64,
    /// The step's mean training loss (nats per token).
    pub loss: f64,
    /// The learning rate used.
    pub learning_rate: f64,
    /// The global gradient norm before clipping.
    pub gradient_norm: f64,
    /// Training tokens per second over this run so far.
    pub tokens_per_second: f64,
    /// Estimated time to the end at that speed.
    pub remaining: Duration,
}

/// The held-out loss of one source.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HeldOutLoss {
    /// The source's name.
    pub source: String,
    /// Mean next-token loss over its held-out tokens (nats per token), or
    /// `None` when the source has no held-out tokens.
    pub loss: Option<f64>,
}

/// Receives a training stage's progress. Every method does nothing by
/// default.
pub trait Observer {
    /// The run starts; `first_step` is 0, or the step it resumes after.
    fn started(&mut self, total_steps: u64, first_step: u64) {
        let _ = (total_steps, first_step);
    }

    /// A step was taken.
    fn step(&mut self, report: &StepReport) {
        let _ = report;
    }

    /// The held-out losses were measured after `step` steps.
    fn evaluated(&mut self, step: u64, losses: &[HeldOutLoss]) {
        let _ = (step, losses);
    }

    /// A checkpoint was written after `step` steps.
    fn checkpointed(&mut self, step: u64) {
        let _ = step;
    }

    /// The run ended and its artifacts were written.
    fn finished(&mut self) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct SilentObserver;

impl Observer for SilentObserver {}
