//! [`FormatTally`]: how many answers are in each format, and how many of
//! those are correct.

use serde::Serialize;

use crate::evaluation::{Classified, Grade};

/// Samples and correct samples in one format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FormatCount {
    /// Samples classified in the format.
    pub samples: usize,
    /// Of those, the correct ones.
    pub correct: usize,
}

/// Counts per [`Classified`] format over a set of grades.
///
/// Shares are over all grades, unknown ones included, so the shares of
/// code, code_text, prose and unknown add up to 1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FormatTally {
    code: FormatCount,
    code_text: FormatCount,
    prose: FormatCount,
    unknown: FormatCount,
}

impl FormatTally {
    /// An empty tally.
    pub fn new() -> Self {
        FormatTally::default()
    }

    /// The tally of `grades`.
    pub fn from_grades<'grade>(grades: impl IntoIterator<Item = &'grade Grade>) -> Self {
        let mut tally = FormatTally::new();
        for grade in grades {
            tally.add(grade);
        }
        tally
    }

    /// Counts one more grade.
    pub fn add(&mut self, grade: &Grade) {
        let count = self.count_mut(grade.format);
        count.samples += 1;
        count.correct += usize::from(grade.correct);
    }

    /// The counts for `format`.
    pub fn count(&self, format: Classified) -> FormatCount {
        match format {
            Classified::Code => self.code,
            Classified::CodeText => self.code_text,
            Classified::Prose => self.prose,
            Classified::Unknown => self.unknown,
        }
    }

    /// Every grade counted.
    pub fn total(&self) -> usize {
        self.code.samples + self.code_text.samples + self.prose.samples + self.unknown.samples
    }

    /// The fraction of grades in `format` (0 for an empty tally).
    pub fn share(&self, format: Classified) -> f64 {
        match self.total() {
            0 => 0.0,
            total => self.count(format).samples as f64 / total as f64,
        }
    }

    /// The fraction correct among grades in `format`; `None` if there are
    /// none.
    pub fn accuracy(&self, format: Classified) -> Option<f64> {
        let count = self.count(format);
        (count.samples > 0).then(|| count.correct as f64 / count.samples as f64)
    }

    /// The fraction correct over all grades; `None` for an empty tally.
    pub fn overall_accuracy(&self) -> Option<f64> {
        let correct =
            self.code.correct + self.code_text.correct + self.prose.correct + self.unknown.correct;
        (self.total() > 0).then(|| correct as f64 / self.total() as f64)
    }

    fn count_mut(&mut self, format: Classified) -> &mut FormatCount {
        match format {
            Classified::Code => &mut self.code,
            Classified::CodeText => &mut self.code_text,
            Classified::Prose => &mut self.prose,
            Classified::Unknown => &mut self.unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::{grade, Answer};

    #[test]
    fn shares_and_accuracies_from_real_grades() {
        let reference = Answer::parse("6").unwrap();
        let completions = [
            "def f():\n    return 2 * 3\n",
            "def f():\n    return 2 + 3\n",
            "<llm-code>\n2 * 3\n</llm-code>",
            "Two times three is six, so \\boxed{6}.",
            "",
        ];
        let grades: Vec<Grade> = completions.iter().map(|c| grade(c, &reference)).collect();
        let tally = FormatTally::from_grades(&grades);
        assert_eq!(tally.total(), 5);
        assert_eq!(
            tally.count(Classified::Code),
            FormatCount {
                samples: 2,
                correct: 1
            }
        );
        assert_eq!(tally.share(Classified::Code), 0.4);
        assert_eq!(tally.share(Classified::Unknown), 0.2);
        assert_eq!(tally.accuracy(Classified::Code), Some(0.5));
        assert_eq!(tally.accuracy(Classified::CodeText), Some(1.0));
        assert_eq!(tally.accuracy(Classified::Unknown), Some(0.0));
        assert_eq!(tally.overall_accuracy(), Some(0.6));
        assert_eq!(FormatTally::new().accuracy(Classified::Prose), None);
        assert_eq!(FormatTally::new().share(Classified::Prose), 0.0);
    }
}
