//! [`Split`]: train or test, decided by a hash of the question text.
//!
//! Hashing the question (not drawing a random number) means a question lands
//! in the same split whatever seed, index or source produced it, so a test
//! question can never also appear in training.

use serde::{Deserialize, Serialize};

/// Which part of a data set a problem belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Used for pretraining and RL.
    Train,
    /// Held out for evaluation.
    Test,
}

impl Split {
    /// The split of `question` when a `test_fraction` of all questions are
    /// held out: blake3 of the text, read as a fraction of 2^64.
    pub fn of_question(question: &str, test_fraction: f64) -> Split {
        let digest = blake3::hash(question.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest.as_bytes()[..8]);
        let position = (u64::from_le_bytes(first) >> 11) as f64 / (1u64 << 53) as f64;
        if position < test_fraction {
            Split::Test
        } else {
            Split::Train
        }
    }

    /// `train` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.name())
    }
}
