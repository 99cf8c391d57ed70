//! [`SyntheticSource`]: a configured stream of generated problems, rendered
//! in one format, with a chosen share of deliberate mistakes.
//!
//! Problem `index` of a source is a pure function of `(seed, index)`
//! (through [`Stream::derive`]), so a source is reproducible item by item
//! whatever else is generated, and two sources with the same seed but
//! different formats hold the same questions. Train and test are split by a
//! hash of the question text ([`Split::of_question`]): a source asked for
//! its test split walks the same indices and keeps only the test questions.

use std::ops::RangeInclusive;

use super::{corrupt, render, DataError, Document, Format, Problem, RenderOptions, Split, Story};
use crate::random::Stream;

/// Sub-stream labels, so that problems and noise never share numbers.
const PROBLEM_STREAM: u64 = 1;
const NOISE_STREAM: u64 = 2;

/// How many indices a source may walk per problem it keeps before giving up
/// (a split that almost nothing falls into).
const ATTEMPTS_PER_PROBLEM: usize = 1_000;

/// A configured synthetic source of grade-school math problems.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSource {
    /// The source's name in documents and statistics.
    pub name: String,
    /// The seed every problem is derived from.
    pub seed: u64,
    /// The format solutions are written in; `None` for questions only (RL
    /// prompts and evaluation sets).
    pub format: Option<Format>,
    /// Reasoning steps per problem, drawn uniformly from this range.
    pub difficulty: RangeInclusive<usize>,
    /// The range the numbers in questions are drawn from.
    pub numbers: RangeInclusive<i64>,
    /// How many documents to produce.
    pub problems: usize,
    /// The fraction of solutions given a deliberate mistake.
    pub noise: f64,
    /// The fraction of all questions held out as the test split.
    pub test_fraction: f64,
    /// Which split to produce.
    pub split: Split,
    /// Rendering choices (docstrings in code).
    pub render: RenderOptions,
}

impl SyntheticSource {
    /// A source with the defaults: 1 to 3 steps, numbers 2 to 50, no noise,
    /// 10% of questions held out, the train split, the code format.
    pub fn new(seed: u64, format: Option<Format>, problems: usize) -> SyntheticSource {
        SyntheticSource {
            name: "synthetic".to_string(),
            seed,
            format,
            difficulty: 1..=3,
            numbers: 2..=50,
            problems,
            noise: 0.0,
            test_fraction: 0.1,
            split: Split::Train,
            render: RenderOptions::default(),
        }
    }

    fn validate(&self) -> Result<(), DataError> {
        let invalid = |message: String| Err(DataError::InvalidSource(message));
        if self.difficulty.is_empty() || *self.difficulty.start() == 0 {
            return invalid(format!(
                "`difficulty` must be a non-empty range of at least 1 step, not {:?}",
                self.difficulty
            ));
        }
        if *self.numbers.start() < 1 || self.numbers.end() <= self.numbers.start() {
            return invalid(format!(
                "`numbers` must be a range of positive integers with at least two values, not {:?}",
                self.numbers
            ));
        }
        if *self.numbers.end() > 1_000_000 {
            return invalid(format!(
                "`numbers` must end at most at 1000000, not {}",
                self.numbers.end()
            ));
        }
        if !(0.0..=1.0).contains(&self.noise) {
            return invalid(format!(
                "`noise` must be within 0 and 1, not {}",
                self.noise
            ));
        }
        if !(0.0..=1.0).contains(&self.test_fraction) {
            return invalid(format!(
                "`test_fraction` must be within 0 and 1, not {}",
                self.test_fraction
            ));
        }
        let share = match self.split {
            Split::Train => 1.0 - self.test_fraction,
            Split::Test => self.test_fraction,
        };
        if share <= 0.0 && self.problems > 0 {
            return invalid(format!(
                "`test_fraction` {} leaves nothing in the `{}` split",
                self.test_fraction, self.split
            ));
        }
        Ok(())
    }

    /// Problem number `index`, whatever its split.
    pub fn problem(&self, index: u64) -> Problem {
        let mut stream = Stream::new(self.seed).derive(&[PROBLEM_STREAM, index]);
        let low = *self.difficulty.start() as u64;
        let span = (*self.difficulty.end() as u64).saturating_sub(low) + 1;
        let steps = (low + stream.below(span)) as usize;
        Story::tell(
            &mut stream,
            steps,
            *self.numbers.start(),
            *self.numbers.end(),
        )
    }

    /// The document for problem `index`, or `None` if it is in the other split.
    pub fn document(&self, index: u64) -> Option<Document> {
        let problem = self.problem(index);
        let split = Split::of_question(&problem.question, self.test_fraction);
        if split != self.split {
            return None;
        }
        let mut noisy = false;
        let solution = match self.format {
            None => None,
            Some(format) => {
                let mut written = problem.clone();
                let mut stream = Stream::new(self.seed).derive(&[NOISE_STREAM, index]);
                if self.noise > 0.0 && stream.next_f64() < self.noise {
                    if let Some((wrong, _)) = corrupt(&problem, format, &mut stream) {
                        written = wrong;
                        noisy = true;
                    }
                }
                render(&written, format, self.render)
            }
        };
        Some(Document {
            source: self.name.clone(),
            format: self.format,
            question: problem.question,
            solution,
            answer: problem.reference.to_string(),
            noisy,
            split,
        })
    }

    /// The first `problems` documents of the configured split, in index order.
    pub fn generate(&self) -> Result<Vec<Document>, DataError> {
        self.validate()?;
        let mut documents = Vec::with_capacity(self.problems);
        let limit = self.problems.saturating_mul(ATTEMPTS_PER_PROBLEM) as u64;
        let mut index = 0u64;
        while documents.len() < self.problems {
            if index >= limit {
                return Err(DataError::InvalidSource(format!(
                    "only {} of {} problems fell in the `{}` split after {index} tries",
                    documents.len(),
                    self.problems,
                    self.split
                )));
            }
            if let Some(document) = self.document(index) {
                documents.push(document);
            }
            index += 1;
        }
        Ok(documents)
    }
}
