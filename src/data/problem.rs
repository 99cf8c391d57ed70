//! [`Problem`]: a math word problem and the structure of its solution.
//!
//! A problem is format-free: the question, the quantities it gives (each a
//! named number), the steps that compute new quantities from them, and the
//! reference answer. The renderers turn one problem into code, code_text or
//! prose, and the noise module changes its steps, so every format of a
//! problem (and every mistake in it) comes from the same arithmetic.

use serde::{Deserialize, Serialize};

use super::{Expression, Number};

/// A quantity the question states, such as `liam_marbles = 12`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Given {
    /// The snake_case variable name used in code.
    pub name: String,
    /// Its value.
    pub value: Number,
}

/// One reasoning step: a named quantity computed from earlier ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The snake_case variable name used in code.
    pub name: String,
    /// How the quantity is computed.
    pub expression: Expression,
    /// The prose sentence, with `{arithmetic}` standing for the written-out
    /// calculation (`12 + 7 = 19`).
    pub sentence: String,
    /// A mistake only prose can make: the written result is off by this much
    /// and later steps carry the wrong value forward. `None` when correct.
    pub slip: Option<Number>,
}

/// A word problem with its solution's structure and its reference answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The question text.
    pub question: String,
    /// The quantities the question gives, in the order they appear.
    pub givens: Vec<Given>,
    /// The reasoning steps, each computed from givens and earlier steps.
    pub steps: Vec<Step>,
    /// The step whose value is the final answer (usually the last).
    pub answer_step: usize,
    /// The correct final answer.
    pub reference: Number,
    /// Whether every quantity is a whole number, so division is written `//`.
    pub whole_numbers: bool,
    /// A ready-written prose solution (GSM8K's own text), used instead of the
    /// step sentences when present; it excludes the closing `\boxed{}` line.
    pub prose: Option<String>,
}

impl Problem {
    /// The value of every step as the solution writes it (slips included and
    /// carried forward); `None` if some step divides by zero or overflows.
    pub fn step_values(&self) -> Option<Vec<Number>> {
        let givens: Vec<Number> = self.givens.iter().map(|given| given.value).collect();
        let mut values: Vec<Number> = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let mut value = step.expression.evaluate(&givens, &values)?;
            if let Some(slip) = step.slip {
                value = value.checked_add(slip)?;
            }
            values.push(value);
        }
        Some(values)
    }

    /// The final answer the solution arrives at (the reference unless a
    /// mistake was introduced).
    pub fn solution_answer(&self) -> Option<Number> {
        self.step_values()?.get(self.answer_step).copied()
    }

    /// Whether the solution's answer differs from the reference.
    pub fn is_wrong(&self) -> bool {
        self.solution_answer() != Some(self.reference)
    }
}
