//! Noise: realistic mistakes put into a solution on purpose, so that a
//! source can carry a known fraction of wrong answers.
//!
//! A mistake is a change to the problem's steps, so that the rendering, the
//! executed code and the written answer all agree on the wrong value:
//! - a wrong operation (`+` where `*` was meant), in any format;
//! - a wrong variable (an earlier quantity used instead of the right one),
//!   in the code formats;
//! - an arithmetic slip in prose: one step's written result is off and
//!   later steps carry it forward.
//!
//! A mistake is only kept if the final answer then differs from the
//! reference (and stays a non-negative whole number for whole-number
//! problems); when no candidate qualifies the problem stays correct and is
//! not marked noisy.

use serde::{Deserialize, Serialize};

use super::{Expression, Format, Number, Operation, Problem};
use crate::random::Stream;

/// The kind of mistake put into a solution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mistake {
    /// One operation replaced by another.
    WrongOperation,
    /// One reference to a quantity replaced by another quantity.
    WrongVariable,
    /// One step's written result off by a little, carried forward (prose).
    ArithmeticSlip,
}

/// A copy of `problem` with one mistake suited to `format`, chosen with
/// `stream`, whose final answer differs from the reference; `None` when no
/// such mistake exists.
pub fn corrupt(
    problem: &Problem,
    format: Format,
    stream: &mut Stream,
) -> Option<(Problem, Mistake)> {
    let kinds = match format {
        Format::Code | Format::CodeText => [Mistake::WrongOperation, Mistake::WrongVariable],
        Format::Prose => [Mistake::ArithmeticSlip, Mistake::WrongOperation],
    };
    let first = stream.below(2) as usize;
    for kind in [kinds[first], kinds[1 - first]] {
        let mut candidates = candidates(problem, kind, stream);
        while !candidates.is_empty() {
            let chosen = candidates.swap_remove(stream.below(candidates.len() as u64) as usize);
            if acceptable(problem, &chosen) {
                return Some((chosen, kind));
            }
        }
    }
    None
}

fn acceptable(original: &Problem, changed: &Problem) -> bool {
    let Some(values) = changed.step_values() else {
        return false;
    };
    let Some(answer) = values.get(changed.answer_step) else {
        return false;
    };
    if *answer == original.reference {
        return false;
    }
    !original.whole_numbers
        || values
            .iter()
            .all(|value| value.is_whole() && *value >= Number::whole(0))
}

fn candidates(problem: &Problem, kind: Mistake, stream: &mut Stream) -> Vec<Problem> {
    let mut all = Vec::new();
    // Only steps up to the answer can change the answer.
    let last = problem
        .answer_step
        .min(problem.steps.len().saturating_sub(1));
    for index in 0..=last {
        let Some(step) = problem.steps.get(index) else {
            break;
        };
        match kind {
            Mistake::WrongOperation => {
                let replacements: &[Operation] = if problem.whole_numbers {
                    &[
                        Operation::Add,
                        Operation::Subtract,
                        Operation::Multiply,
                        Operation::FloorDivide,
                    ]
                } else {
                    &[
                        Operation::Add,
                        Operation::Subtract,
                        Operation::Multiply,
                        Operation::Divide,
                    ]
                };
                for (position, original) in step.expression.operations().into_iter().enumerate() {
                    for &replacement in replacements.iter().filter(|&&other| other != original) {
                        let mut changed = problem.clone();
                        changed.steps[index].expression =
                            step.expression.with_operation(position, replacement);
                        all.push(changed);
                    }
                }
            }
            Mistake::WrongVariable => {
                let mut available: Vec<Expression> =
                    (0..problem.givens.len()).map(Expression::Given).collect();
                available.extend((0..index).map(Expression::Step));
                for (position, original) in step.expression.references().into_iter().enumerate() {
                    for replacement in available.iter().filter(|&other| *other != original) {
                        let mut changed = problem.clone();
                        changed.steps[index].expression =
                            step.expression.with_reference(position, replacement);
                        all.push(changed);
                    }
                }
            }
            Mistake::ArithmeticSlip => {
                let size = 1 + stream.below(9) as i64;
                for offset in [size, -size] {
                    let mut changed = problem.clone();
                    changed.steps[index].slip = Some(Number::whole(offset));
                    all.push(changed);
                }
            }
        }
    }
    all
}
