//! [`FormatForcing`]: greedy answers forced into one solution format, for
//! the `forced_pass@1` metric.
//!
//! Greedy decoding picks one format per question, so plain `pass@1` cannot
//! say how well a model solves problems in each format. Forcing does:
//! - `code` and `code_text`: the answer is prefilled with the format's
//!   opening, the text every training solution of that format starts with
//!   ([`solution_opening`], written by the renderers from the same
//!   constants): `def simple_math_problem() -> int:\n` and
//!   `Let's solve this problem using Python code.\n<llm-code>\n`. Its tokens
//!   are appended to the prompt, and the model continues greedily.
//! - `prose` has no fixed opening, so nothing is prefilled; instead the
//!   first tokens of the other formats' openings are forbidden at the first
//!   generated position (their logits are minus infinity), then the model
//!   continues greedily.
//!
//! The prompt ends with a newline and every opening ends with one, and the
//! tokenizer always cuts at a newline, so the prompt's tokens followed by
//! the opening's are exactly the tokens of the training text up to the
//! same point: the model is asked from where its data would be.
//!
//! The graded answer is the prefill's text followed by what the model
//! wrote, so the grader sees the `def` line or the `<llm-code>` line. An
//! answer counts as solved in format `F` only if it is correct and the
//! classifier puts it in `F`: a prose answer that drifts into code, or a
//! code answer that opens an `<llm-code>` block, is wrong in `F`. The
//! answer's length, prefill included, is bounded by the same
//! `max_new_tokens` as a free answer.

use super::{grade, Answer, Classified, Grade};
use crate::data::{solution_opening, Format, Tokenizer};
use crate::model::{Gpt, ModelError};
use crate::training::rl::{
    sample_requests, Completion, PromptRequest, SamplingRequest, SamplingSettings,
};

/// How answers are forced into one format, with the stage's tokenizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatForcing {
    /// The format answers are forced into.
    pub format: Format,
    /// The text every answer starts with (empty for prose).
    pub prefill_text: &'static str,
    /// The prefill's tokens, appended to every prompt.
    pub prefill_tokens: Vec<u32>,
    /// Tokens that cannot be the first generated token, sorted, without
    /// repeats: for prose, the first token of each other format's opening;
    /// empty for the formats with a prefill.
    pub forbidden_first_tokens: Vec<u32>,
}

/// One forced greedy answer and its grade.
#[derive(Debug, Clone, PartialEq)]
pub struct ForcedAnswer {
    /// The whole answer: the prefill's text, then the model's.
    pub text: String,
    /// The grade of [`ForcedAnswer::text`].
    pub grade: Grade,
    /// Whether the classifier puts the answer in the forced format.
    pub in_format: bool,
    /// Whether it counts as solved in the forced format: correct and in it.
    pub solved: bool,
}

impl FormatForcing {
    /// The forcing of `format`, its openings tokenised with `tokenizer`.
    pub fn new(format: Format, tokenizer: &Tokenizer) -> FormatForcing {
        let prefill_text = solution_opening(format);
        let mut forbidden_first_tokens: Vec<u32> = if prefill_text.is_empty() {
            Format::ALL
                .into_iter()
                .filter(|other| *other != format)
                .filter_map(|other| tokenizer.encode(solution_opening(other)).first().copied())
                .collect()
        } else {
            Vec::new()
        };
        forbidden_first_tokens.sort_unstable();
        forbidden_first_tokens.dedup();
        FormatForcing {
            format,
            prefill_text,
            prefill_tokens: tokenizer.encode(prefill_text),
            forbidden_first_tokens,
        }
    }

    /// The forcing of every format, in [`Format::ALL`]'s order.
    pub fn all(tokenizer: &Tokenizer) -> Vec<FormatForcing> {
        Format::ALL
            .into_iter()
            .map(|format| FormatForcing::new(format, tokenizer))
            .collect()
    }

    /// Grades `text` (the whole answer, prefill included) as an answer
    /// forced into this format.
    pub fn judge(&self, text: String, reference: &Answer) -> ForcedAnswer {
        let grade = grade(&text, reference);
        let in_format = grade.format == Classified::from(self.format);
        ForcedAnswer {
            solved: in_format && grade.correct,
            in_format,
            grade,
            text,
        }
    }

    /// The prompts of the forced answers: each of `prompts` followed by
    /// the prefill, one sample each. Greedy decoding never reads the
    /// streams; only the tokens are used.
    pub fn prompts(&self, prompts: &[PromptRequest]) -> Vec<PromptRequest> {
        prompts
            .iter()
            .map(|prompt| {
                let mut tokens = prompt.tokens.clone();
                tokens.extend_from_slice(&self.prefill_tokens);
                PromptRequest {
                    tokens,
                    stream: prompt.stream.clone(),
                    samples: 1,
                }
            })
            .collect()
    }

    /// Greedy decoding bounded so that the whole answer, prefill included,
    /// has at most `max_new_tokens` tokens.
    fn settings(&self, max_new_tokens: usize) -> SamplingSettings {
        SamplingSettings {
            temperature: 0.0,
            top_p: 1.0,
            max_new_tokens: max_new_tokens.saturating_sub(self.prefill_tokens.len()),
        }
    }

    /// The requests of the forced answers to `prompts` (from
    /// [`FormatForcing::prompts`]), for
    /// [`sample_requests`](crate::training::rl::sample_requests).
    pub fn requests<'a>(
        &'a self,
        prompts: &'a [PromptRequest],
        max_new_tokens: usize,
    ) -> impl Iterator<Item = SamplingRequest<'a>> + 'a {
        let settings = self.settings(max_new_tokens);
        prompts.iter().map(move |prompt| SamplingRequest {
            prompt,
            settings,
            forbidden_first_tokens: &self.forbidden_first_tokens,
        })
    }

    /// The forced answers from what the model wrote after each prompt's
    /// prefill, graded against the reference of the same index.
    pub fn answers(
        &self,
        completions: &[Vec<Completion>],
        references: &[Answer],
    ) -> Vec<ForcedAnswer> {
        completions
            .iter()
            .zip(references)
            .map(|(samples, reference)| {
                let written = samples.first().map_or("", |completion| &completion.text);
                self.judge(format!("{}{written}", self.prefill_text), reference)
            })
            .collect()
    }

    /// One greedy answer per prompt, forced into this format, graded
    /// against the reference of the same index. `max_new_tokens` bounds
    /// the whole answer, prefill included. Greedy decoding never reads the
    /// requests' streams; only their tokens are used.
    pub fn answer_greedily(
        &self,
        model: &Gpt,
        prompts: &[PromptRequest],
        references: &[Answer],
        max_new_tokens: usize,
        eos: u32,
        decode: &dyn Fn(&[u32]) -> String,
    ) -> Result<Vec<ForcedAnswer>, ModelError> {
        let prompts = self.prompts(prompts);
        let requests: Vec<SamplingRequest<'_>> = self.requests(&prompts, max_new_tokens).collect();
        let completions = sample_requests(model, &requests, eos, decode)?;
        Ok(self.answers(&completions, references))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Level, SyntheticSource, CODE_SOLUTION_OPENING, CODE_TEXT_SOLUTION_OPENING};

    fn corpus() -> Vec<String> {
        Format::ALL
            .into_iter()
            .flat_map(|format| {
                SyntheticSource::new(8, Some(format), 30)
                    .generate()
                    .unwrap()
                    .into_iter()
                    .map(|document| document.text())
            })
            .collect()
    }

    #[test]
    fn the_prefill_is_the_renderers_opening_in_the_tokens_of_the_training_text() {
        let texts = corpus();
        for level in [Level::Word, Level::Character] {
            let tokenizer = Tokenizer::train(level, &texts);
            let forcings = FormatForcing::all(&tokenizer);
            assert_eq!(forcings[0].prefill_text, CODE_SOLUTION_OPENING);
            assert_eq!(forcings[1].prefill_text, CODE_TEXT_SOLUTION_OPENING);
            assert_eq!(forcings[2].prefill_text, "");
            for forcing in &forcings {
                assert_eq!(
                    tokenizer.decode(&forcing.prefill_tokens),
                    forcing.prefill_text
                );
            }
            // Prompt tokens followed by the prefill's are how every
            // training document of the format starts.
            for text in &texts {
                let (question, solution) = text.split_once("\n\n").unwrap();
                let prompt = tokenizer.encode(&format!("{question}\n\n"));
                let whole = tokenizer.encode(text);
                let forcing = forcings
                    .iter()
                    .find(|forcing| {
                        !forcing.prefill_text.is_empty()
                            && solution.starts_with(forcing.prefill_text)
                    })
                    .unwrap_or(&forcings[2]);
                let mut expected = prompt.clone();
                expected.extend_from_slice(&forcing.prefill_tokens);
                assert_eq!(whole[..expected.len()], expected[..], "{text}");
            }
        }
    }

    #[test]
    fn the_prose_mask_removes_exactly_the_other_openings_first_tokens() {
        let tokenizer = Tokenizer::train(Level::Word, &corpus());
        let forcings = FormatForcing::all(&tokenizer);
        assert!(forcings[0].forbidden_first_tokens.is_empty());
        assert!(forcings[1].forbidden_first_tokens.is_empty());
        let mut expected = vec![
            tokenizer.encode(CODE_SOLUTION_OPENING)[0],
            tokenizer.encode(CODE_TEXT_SOLUTION_OPENING)[0],
        ];
        expected.sort_unstable();
        assert_eq!(forcings[2].forbidden_first_tokens, expected);
        let texts: Vec<String> = expected
            .iter()
            .map(|&id| tokenizer.token_text(id))
            .collect();
        assert_eq!(texts, ["Let", "def"]);
    }

    #[test]
    fn at_word_level_no_training_prose_starts_with_a_forbidden_token() {
        let tokenizer = Tokenizer::train(Level::Word, &corpus());
        let prose = FormatForcing::new(Format::Prose, &tokenizer);
        let mut source = SyntheticSource::new(21, Some(Format::Prose), 300);
        source.difficulty = 1..=6;
        for document in source.generate().unwrap() {
            let first = tokenizer.encode(&document.solution.unwrap())[0];
            assert!(!prose.forbidden_first_tokens.contains(&first));
        }
    }

    #[test]
    fn an_answer_counts_only_in_the_format_it_is_forced_into() {
        let tokenizer = Tokenizer::train(Level::Word, &corpus());
        let reference = Answer::parse("7").unwrap();
        let code = FormatForcing::new(Format::Code, &tokenizer);
        let right = code.judge(
            format!("{CODE_SOLUTION_OPENING}    result = 3 + 4\n    return result"),
            &reference,
        );
        assert!(right.in_format && right.solved);
        let wrong = code.judge(
            format!("{CODE_SOLUTION_OPENING}    result = 3 + 5\n    return result"),
            &reference,
        );
        assert!(wrong.in_format && !wrong.solved);
        let prose = FormatForcing::new(Format::Prose, &tokenizer);
        let drifted = prose.judge("<llm-code>\n3 + 4\n</llm-code>".into(), &reference);
        assert!(drifted.grade.correct && !drifted.in_format && !drifted.solved);
        let boxed = prose.judge(
            "3 + 4 = 7\nThus, the answer is \\boxed{7}.".into(),
            &reference,
        );
        assert!(boxed.in_format && boxed.solved);
    }
}
