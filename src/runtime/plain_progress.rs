//! [`PlainProgress`]: a stage's progress as plain lines, for standard error
//! when it is not a terminal (a log file, a CI job, `nohup`), where no bar
//! can be drawn.
//!
//! One line when the stage starts computing, naming its log, then one line
//! at most every [`PlainProgress::interval`] with the step, the stage's
//! own message and the time left at the rate measured since the first
//! report (so a resumed stage's estimate counts only the steps it ran).

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How often a progress line is printed by default.
pub const PROGRESS_LINE_EVERY: Duration = Duration::from_secs(30);

/// The environment variable that sets the interval between progress lines,
/// in seconds (for tests and for people who want more or fewer lines).
pub const PROGRESS_EVERY_VARIABLE: &str = "ECHOLAB_PROGRESS_EVERY";

/// Writes one stage's progress lines.
#[derive(Debug)]
pub struct PlainProgress {
    name: String,
    log: PathBuf,
    interval: Duration,
    /// The first step reported and when, for the rate.
    first: Option<(u64, Instant)>,
    /// When the last line was printed.
    last_line: Option<Instant>,
}

impl PlainProgress {
    /// Progress lines for the stage `name`, whose log is `log`, at the
    /// interval [`PROGRESS_EVERY_VARIABLE`] sets (else every 30 s).
    pub fn new(name: &str, log: PathBuf) -> Self {
        let interval = std::env::var(PROGRESS_EVERY_VARIABLE)
            .ok()
            .and_then(|value| value.trim().parse::<f64>().ok())
            .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
            .map_or(PROGRESS_LINE_EVERY, Duration::from_secs_f64);
        PlainProgress {
            name: name.to_string(),
            log,
            interval,
            first: None,
            last_line: None,
        }
    }

    /// The line for a report of `step` of `total` with the stage's
    /// `message`, if one is due now; a `total` of 0 says the stage started
    /// computing.
    pub fn report(&mut self, step: u64, total: u64, message: &str, now: Instant) -> Option<String> {
        if total == 0 {
            self.last_line = Some(now);
            return Some(format!(
                "started  {} (log: {})",
                self.name,
                self.log.display()
            ));
        }
        let (first_step, first_time) = *self.first.get_or_insert((step, now));
        let due = self
            .last_line
            .is_none_or(|last| now.duration_since(last) >= self.interval);
        if !due || step == first_step {
            return None;
        }
        self.last_line = Some(now);
        let done = step.saturating_sub(first_step) as f64;
        let elapsed = now.duration_since(first_time).as_secs_f64();
        let left = total.saturating_sub(step) as f64 * elapsed / done;
        let message = if message.is_empty() {
            String::new()
        } else {
            format!(" {message}")
        };
        Some(format!(
            "progress {}: {step}/{total}{message}, about {} left",
            self.name,
            duration_text(left)
        ))
    }
}

/// `45 s`, `3 min 20 s`, `1 h 05 min`.
pub fn duration_text(seconds: f64) -> String {
    let seconds = seconds.max(0.0).round() as u64;
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {:02} s", seconds / 60, seconds % 60),
        _ => format!("{} h {:02} min", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(interval: u64) -> PlainProgress {
        PlainProgress {
            name: "base".into(),
            log: PathBuf::from(".echolab/logs/x/base.abc.log"),
            interval: Duration::from_secs(interval),
            first: None,
            last_line: None,
        }
    }

    #[test]
    fn a_start_line_names_the_log_and_progress_lines_come_at_most_every_interval() {
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        let mut progress = progress(30);
        assert_eq!(
            progress.report(0, 0, "", at(0)).as_deref(),
            Some("started  base (log: .echolab/logs/x/base.abc.log)")
        );
        // The first step only starts the clock of the rate.
        assert_eq!(progress.report(10, 100, "loss 2.1", at(1)), None);
        assert_eq!(progress.report(20, 100, "loss 2.0", at(11)), None);
        // 30 s after the start line: 20 steps in 30 s, 70 left.
        assert_eq!(
            progress.report(30, 100, "loss 1.9", at(31)).as_deref(),
            Some("progress base: 30/100 loss 1.9, about 1 min 45 s left")
        );
        assert_eq!(progress.report(35, 100, "", at(45)), None);
        assert_eq!(
            progress.report(50, 100, "", at(61)).as_deref(),
            Some("progress base: 50/100, about 1 min 15 s left")
        );
    }

    #[test]
    fn durations_read_in_the_largest_sensible_units() {
        assert_eq!(duration_text(44.6), "45 s");
        assert_eq!(duration_text(200.0), "3 min 20 s");
        assert_eq!(duration_text(3900.0), "1 h 05 min");
        assert_eq!(duration_text(-3.0), "0 s");
    }
}
