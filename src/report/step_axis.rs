//! [`StepAxis`]: RL steps on a log scale that still shows step 0.
//!
//! A step is placed at `ln(step + 1)`: step 0 sits at the origin, and the
//! early steps, where a format's share moves most, get as much room as the
//! long tail. The ticks are the evaluated steps themselves when there are
//! few (a point sits on its label), else the "nice" steps 0, 1, 2, 5, 10,
//! 20, 50, ...; either way ticks closer than 7% of the axis are thinned and
//! the last step is always labelled.

/// The horizontal axis of the charts over RL steps.
#[derive(Debug, Clone, PartialEq)]
pub struct StepAxis {
    /// The evaluated steps, increasing, without repeats.
    steps: Vec<u64>,
}

/// Up to this many evaluated steps are labelled themselves.
const MOST_LABELLED_STEPS: usize = 12;
/// The smallest distance between ticks, as a fraction of the axis.
const MINIMUM_TICK_GAP: f64 = 0.07;

impl StepAxis {
    /// The axis of these evaluated steps (any order, repeats allowed).
    pub fn new(steps: impl IntoIterator<Item = u64>) -> StepAxis {
        let mut steps: Vec<u64> = steps.into_iter().collect();
        steps.sort_unstable();
        steps.dedup();
        StepAxis { steps }
    }

    /// The last step shown.
    pub fn last_step(&self) -> u64 {
        self.steps.last().copied().unwrap_or(0)
    }

    /// Where `step` is drawn.
    pub fn position(step: u64) -> f64 {
        (step as f64 + 1.0).ln()
    }

    /// The step drawn at `position` (the inverse of [`StepAxis::position`],
    /// rounded to a whole step).
    pub fn step_at(position: f64) -> u64 {
        (position.exp() - 1.0).round().max(0.0) as u64
    }

    /// The range of positions drawn: a margin either side so markers at
    /// step 0 and the last step are not cut.
    pub fn range(&self) -> (f64, f64) {
        let end = StepAxis::position(self.last_step()).max(1.0);
        let margin = end * 0.04;
        (-margin, end + margin)
    }

    /// The labelled steps, increasing.
    pub fn ticks(&self) -> Vec<u64> {
        let last_step = self.last_step();
        let candidates: Vec<u64> =
            if !self.steps.is_empty() && self.steps.len() <= MOST_LABELLED_STEPS {
                self.steps.clone()
            } else {
                nice_steps(last_step)
            };
        let gap = MINIMUM_TICK_GAP * StepAxis::position(last_step).max(1.0);
        let mut ticks: Vec<u64> = Vec::new();
        for step in candidates {
            let far_enough = ticks.last().is_none_or(|&previous| {
                StepAxis::position(step) - StepAxis::position(previous) >= gap
            });
            if far_enough && step < last_step {
                ticks.push(step);
            }
        }
        if last_step > 0 {
            let last = StepAxis::position(last_step);
            while ticks.len() > 1
                && ticks
                    .last()
                    .is_some_and(|&tick| last - StepAxis::position(tick) < gap)
            {
                ticks.pop();
            }
        }
        if ticks.last() != Some(&last_step) {
            ticks.push(last_step);
        }
        ticks
    }
}

/// 0, 1, 2, 5, 10, 20, 50, ... below `last_step`.
fn nice_steps(last_step: u64) -> Vec<u64> {
    let mut steps = vec![0];
    let mut decade = 1u64;
    'decades: loop {
        for multiple in [1, 2, 5] {
            match decade.checked_mul(multiple) {
                Some(step) if step < last_step => steps.push(step),
                _ => break 'decades,
            }
        }
        match decade.checked_mul(10) {
            Some(next) => decade = next,
            None => break,
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_zero_is_at_the_origin_and_positions_invert() {
        assert_eq!(StepAxis::position(0), 0.0);
        for step in [0, 1, 3, 9, 19, 40, 1000] {
            assert_eq!(StepAxis::step_at(StepAxis::position(step)), step);
        }
    }

    #[test]
    fn few_evaluated_steps_are_the_ticks_themselves() {
        assert_eq!(
            StepAxis::new([40, 0, 1, 2, 4, 9, 19, 19]).ticks(),
            vec![0, 1, 2, 4, 9, 19, 40]
        );
        assert_eq!(StepAxis::new([0, 1, 3]).ticks(), vec![0, 1, 3]);
        assert_eq!(StepAxis::new([0]).ticks(), vec![0]);
    }

    #[test]
    fn many_evaluated_steps_get_nice_ticks_ending_at_the_last_step() {
        assert_eq!(StepAxis::new(0..=40).ticks(), vec![0, 1, 2, 5, 10, 20, 40]);
        assert_eq!(
            StepAxis::new((0..=1000).step_by(10)).ticks(),
            vec![0, 1, 5, 10, 20, 50, 100, 200, 500, 1000],
            "2 is too close to 1 on an axis to 1000"
        );
    }

    #[test]
    fn a_tick_too_close_to_another_gives_way() {
        // ln(23) - ln(21) is under 7% of ln(23): 20 would overlap 22.
        assert_eq!(StepAxis::new(0..=22).ticks(), vec![0, 1, 2, 5, 10, 22]);
        // 38 and 39 crowd 40.
        assert_eq!(StepAxis::new([0, 10, 38, 39, 40]).ticks(), vec![0, 10, 40]);
    }
}
