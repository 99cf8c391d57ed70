//! [`majority_at_k`]: majority voting over the answers of k samples.

use super::pass_at_k::MetricError;
use crate::evaluation::answer::Answer;

/// The most common answer among `answers`, ignoring samples without one.
///
/// Answers are grouped in order: each joins the first earlier group whose
/// first answer equals it (equality as [`Answer`] defines it, tolerance
/// included), else starts a new group. The largest group wins; a tie goes
/// to the group whose first answer came earliest. `None` when no sample
/// has an answer.
pub fn majority_vote(answers: &[Option<Answer>]) -> Option<Answer> {
    let mut groups: Vec<(Answer, usize)> = Vec::new();
    for answer in answers.iter().flatten() {
        match groups.iter_mut().find(|(first, _)| first == answer) {
            Some((_, count)) => *count += 1,
            None => groups.push((*answer, 1)),
        }
    }
    let mut best: Option<(Answer, usize)> = None;
    for (answer, count) in groups {
        if best.is_none_or(|(_, best_count)| count > best_count) {
            best = Some((answer, count));
        }
    }
    best.map(|(answer, _)| answer)
}

/// maj@k for one problem: whether the majority answer of the first `k`
/// samples equals `reference` (false when none of them has an answer).
pub fn majority_at_k(
    answers: &[Option<Answer>],
    k: usize,
    reference: &Answer,
) -> Result<bool, MetricError> {
    if k == 0 || k > answers.len() {
        return Err(MetricError::BadK {
            k,
            samples: answers.len(),
        });
    }
    Ok(majority_vote(&answers[..k]).is_some_and(|answer| answer == *reference))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(texts: &[&str]) -> Vec<Option<Answer>> {
        texts.iter().map(|text| Answer::parse(text).ok()).collect()
    }

    #[test]
    fn the_most_common_answer_wins_and_missing_answers_do_not_vote() {
        let votes = answers(&["18", "x", "17", "18.0", "x", "x", "36/2"]);
        assert_eq!(majority_vote(&votes), Answer::parse("18").ok());
        let eighteen = Answer::parse("18").unwrap();
        assert_eq!(majority_at_k(&votes, 7, &eighteen), Ok(true));
        // The first three samples: 18 and 17 tie at one vote; 18 came first.
        assert_eq!(majority_at_k(&votes, 3, &eighteen), Ok(true));
        let seventeen = Answer::parse("17").unwrap();
        assert_eq!(
            majority_at_k(&answers(&["17", "18"]), 2, &seventeen),
            Ok(true)
        );
        assert_eq!(majority_vote(&answers(&["x", "y"])), None);
        assert_eq!(majority_at_k(&answers(&["x"]), 1, &seventeen), Ok(false));
    }

    #[test]
    fn k_must_fit_the_samples() {
        let seventeen = Answer::parse("17").unwrap();
        assert!(majority_at_k(&answers(&["17"]), 2, &seventeen).is_err());
        assert!(majority_at_k(&answers(&["17"]), 0, &seventeen).is_err());
    }
}
