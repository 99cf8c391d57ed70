//! "Did you mean" suggestions for misspelled names.

/// The candidate closest to `word` if it is close enough to be a likely
/// misspelling: at most a third of the word's length in edits (at least one).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| (strsim::damerau_levenshtein(word, candidate), candidate))
        .filter(|&(distance, candidate)| distance <= limit && candidate != word)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|(_, candidate)| candidate)
}

/// `did you mean `x`?`, when there is a close candidate.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(word, candidates).map(|candidate| format!("did you mean `{candidate}`?"))
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn suggests_near_misses_only() {
        let names = ["grpo", "ppo", "reinforce", "expert_iteration"];
        assert_eq!(closest("grpoo", names), Some("grpo"));
        assert_eq!(closest("reinfroce", names), Some("reinforce"));
        assert_eq!(closest("sgd", names), None);
    }
}
