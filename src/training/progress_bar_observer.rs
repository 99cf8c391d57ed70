//! [`ProgressBarObserver`]: an [`Observer`] that draws an indicatif bar.

use indicatif::{ProgressBar, ProgressStyle};

use super::{HeldOutLoss, Observer, StepReport};

/// Draws one progress bar with the step, loss, speed and ETA.
#[derive(Debug)]
pub struct ProgressBarObserver {
    bar: ProgressBar,
    label: String,
}

impl ProgressBarObserver {
    /// A bar labelled `label` (the stage's name, say); hidden until the run
    /// starts.
    pub fn new(label: &str) -> Self {
        ProgressBarObserver {
            bar: ProgressBar::hidden(),
            label: label.to_string(),
        }
    }
}

impl Observer for ProgressBarObserver {
    fn started(&mut self, total_steps: u64, first_step: u64) {
        let bar = ProgressBar::new(total_steps);
        let template = "{prefix} [{bar:30}] {pos}/{len} steps {msg}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(self.label.clone());
        bar.set_position(first_step);
        self.bar = bar;
    }

    fn step(&mut self, report: &StepReport) {
        self.bar.set_position(report.step);
        self.bar.set_message(format!(
            "loss {:.4}  {:.0} tokens/s  eta {}s",
            report.loss,
            report.tokens_per_second,
            report.remaining.as_secs()
        ));
    }

    fn evaluated(&mut self, step: u64, losses: &[HeldOutLoss]) {
        let summary: Vec<String> = losses
            .iter()
            .map(|held_out| match held_out.loss {
                Some(loss) => format!("{} {loss:.4}", held_out.source),
                None => format!("{} -", held_out.source),
            })
            .collect();
        self.bar.println(format!(
            "{} step {step}: held-out {}",
            self.label,
            summary.join(", ")
        ));
    }

    fn finished(&mut self) {
        self.bar.finish();
    }
}
