//! [`StageObserver`]: training progress into a stage's progress line and log.

use super::StageContext;
use crate::training::{HeldOutLoss, Observer, StepReport};

/// Reports a training run to its stage: every step to the progress line,
/// every `log_every` steps (and every held-out loss) to the stage's log.
pub(super) struct StageObserver<'a, 'b> {
    /// The stage being trained.
    pub context: &'a mut StageContext<'b>,
    /// Steps between log lines.
    pub log_every: u64,
}

impl Observer for StageObserver<'_, '_> {
    fn started(&mut self, total_steps: u64, first_step: u64) {
        if first_step > 0 {
            self.context
                .log(&format!("resuming at step {first_step} of {total_steps}"));
        }
        (self.context.progress)(first_step, total_steps, "");
    }

    fn step(&mut self, report: &StepReport) {
        let message = format!(
            "loss {:.3}  {:.0} tokens/s",
            report.loss, report.tokens_per_second
        );
        (self.context.progress)(report.step, report.total_steps, &message);
        if report.step.is_multiple_of(self.log_every.max(1)) {
            self.context.log(&format!(
                "step {}/{}  {message}",
                report.step, report.total_steps
            ));
        }
    }

    fn evaluated(&mut self, step: u64, losses: &[HeldOutLoss]) {
        let losses: Vec<String> = losses
            .iter()
            .map(|loss| {
                format!(
                    "{} {}",
                    loss.source,
                    loss.loss
                        .map_or("-".to_string(), |value| format!("{value:.3}"))
                )
            })
            .collect();
        self.context
            .log(&format!("step {step}: held-out loss {}", losses.join(", ")));
    }
}
