//! Final answers: reading them from text and comparing them.
//!
//! [`Answer`] is the numeric answer type (exact rationals, floats with a
//! tolerance); [`extract`] finds the final answer a text states; the number
//! reader behind both accepts the ways solutions write numbers (`1,000`,
//! `$5`, `50%`, `-0.5`, `3/4`, `\frac{3}{4}`).

#[expect(
    clippy::module_inception,
    reason = "the file is named after its type, `Answer`"
)]
mod answer;
mod extractor;
mod number;
mod rational;

pub use answer::{Answer, AnswerError, ABSOLUTE_TOLERANCE, RELATIVE_TOLERANCE};
pub use extractor::{extract, last_boxed};
pub use rational::Rational;
