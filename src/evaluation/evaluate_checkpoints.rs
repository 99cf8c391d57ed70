//! [`evaluate_checkpoints`]: the evaluation stage, from checkpoints and
//! problem sets to `metrics.jsonl` and `samples.jsonl`.
//!
//! For each step and set: greedy answers for pass@1, and `samples`
//! sampled answers per problem (temperature, top-p) for everything else,
//! all graded with [`grade`](super::grade); for `forced_pass@1`, one more
//! greedy answer per problem and format, forced into that format by
//! [`FormatForcing`] (rows in the order code, code_text, prose, every
//! format whatever the training mixture held). Sampling uses the RL stage's
//! sampler; its streams are keyed by the seed, the set's name, the problem
//! and the sample, and not by the step, so every checkpoint answers with
//! the same random numbers (common random numbers make steps comparable).
//! Nothing written depends on time or on the thread count: the files are
//! the same bytes on every run. [`evaluate_checkpoints_in`] keeps each
//! (step, set) as an [`EvaluationPart`](super::EvaluationPart) in a work folder as it goes, so a
//! killed evaluation resumes with what it measured.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::Device;
use serde::Serialize;

use super::eval_row::FORMATS;
use super::evaluation_part::PartFolder;
use super::metrics::{majority_at_k, pass_at_k, FormatTally};
use super::{grade, Answer, EvalConfig, EvalRow, EvaluateError, FormatForcing, Grade, Metric};
use crate::data::{Document, Tokenizer};
use crate::model::Gpt;
use crate::random::Stream;
use crate::training::rl::{
    prompt_text, sample_requests, Completion, MicroBatch, PromptRequest, SamplingRequest,
    SamplingSettings, TrainingSequence,
};
use crate::training::{write_atomically, ModelArtifact};

/// What the evaluation reads besides its configuration.
#[derive(Debug, Clone)]
pub struct EvalInputs {
    /// The checkpoint folder (`model.safetensors` + `config.json`) of each
    /// step; a pretrained model's is step 0.
    pub checkpoints: BTreeMap<u64, PathBuf>,
    /// The tokenizer.
    pub tokenizer: Tokenizer,
    /// The reference model of the `kl` metric (the RL stage's start).
    pub reference: Option<PathBuf>,
    /// The evaluation sets by name; the first `problems` of each are asked.
    pub sets: Vec<(String, Vec<Document>)>,
}

/// What an evaluation reports.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOutcome {
    /// Every row written to `metrics.jsonl`, in order.
    pub rows: Vec<EvalRow>,
    /// `metrics.jsonl`.
    pub metrics_path: PathBuf,
    /// `samples.jsonl`.
    pub samples_path: PathBuf,
}

/// One line of `samples.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct SampleRow<'a> {
    step: u64,
    set: &'a str,
    problem: usize,
    sample: usize,
    /// The format the answer was forced into (`forced_pass@1`'s answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    forced: Option<&'static str>,
    question: &'a str,
    completion: &'a str,
    format: &'static str,
    correct: bool,
}

/// Problems per (step, set) whose first sample goes to `samples.jsonl`.
const LOGGED_PROBLEMS: usize = 4;

/// A (step, set) of an evaluation done, as [`evaluate_checkpoints_in`]
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartDone<'a> {
    /// The checkpoint's step.
    pub step: u64,
    /// The set's name.
    pub set: &'a str,
    /// Parts done so far, this one included.
    pub done: usize,
    /// Parts in the whole evaluation (steps times sets).
    pub total: usize,
    /// Whether the part was read back from the work folder rather than
    /// measured.
    pub resumed: bool,
}

/// Evaluates every step's checkpoint on every set and writes
/// `out_dir/metrics.jsonl` and `out_dir/samples.jsonl`.
pub fn evaluate_checkpoints(
    config: &EvalConfig,
    inputs: &EvalInputs,
    out_dir: &Path,
) -> Result<EvalOutcome, EvaluateError> {
    evaluate(config, inputs, out_dir, None, &mut |_| {})
}

/// [`evaluate_checkpoints`], keeping each (step, set) measured as an
/// [`EvaluationPart`](super::EvaluationPart) in `work` and reading back the parts a killed run
/// left there, so the files are the same bytes however many runs it took.
/// `on_part` hears of each part as it is done.
pub fn evaluate_checkpoints_in(
    config: &EvalConfig,
    inputs: &EvalInputs,
    out_dir: &Path,
    work: &Path,
    on_part: &mut dyn FnMut(&PartDone<'_>),
) -> Result<EvalOutcome, EvaluateError> {
    evaluate(config, inputs, out_dir, Some(work), on_part)
}

fn evaluate(
    config: &EvalConfig,
    inputs: &EvalInputs,
    out_dir: &Path,
    work: Option<&Path>,
    on_part: &mut dyn FnMut(&PartDone<'_>),
) -> Result<EvalOutcome, EvaluateError> {
    config.validate()?;
    let device = Device::Cpu;
    let needs_kl = config.evaluation.metrics.contains(&Metric::Kl);
    let reference = match (&inputs.reference, needs_kl) {
        (Some(path), true) => Some(load(path, &inputs.tokenizer, &device)?),
        (None, true) => return Err(EvaluateError::MissingReference),
        _ => None,
    };
    let sets = prepare_sets(config, inputs)?;
    let forcings = if config.evaluation.metrics.contains(&Metric::ForcedPassAtOne) {
        FormatForcing::all(&inputs.tokenizer)
    } else {
        Vec::new()
    };
    let folder = match work {
        Some(work) => Some(PartFolder::new(
            work,
            config,
            &inputs.tokenizer,
            inputs.reference.as_deref().filter(|_| needs_kl),
        )?),
        None => None,
    };
    let steps = config.evaluated_steps();
    let total = steps.len() * sets.len();
    let mut rows = Vec::new();
    let mut samples_text = String::new();
    let mut done = 0;
    for step in steps {
        let path = inputs
            .checkpoints
            .get(&step)
            .ok_or(EvaluateError::MissingCheckpoint { step })?;
        // Loaded for the first part of this step not read back.
        let mut model: Option<(Gpt, u32)> = None;
        for (set_index, set) in sets.iter().enumerate() {
            let slot = match &folder {
                Some(folder) => {
                    Some(folder.slot(path, step, set_index, &set.name, &set.problems)?)
                }
                None => None,
            };
            let read_back = match &slot {
                Some(slot) => slot.read()?,
                None => None,
            };
            let resumed = read_back.is_some();
            let (part_rows, part_samples) = match read_back {
                Some(part) => (part.rows, part.samples),
                None => {
                    let (gpt, eos) = match model.take() {
                        Some(loaded) => loaded,
                        None => load(path, &inputs.tokenizer, &device)?,
                    };
                    let measured = measure_part(
                        config,
                        &inputs.tokenizer,
                        &forcings,
                        reference.as_ref().map(|(reference, _)| reference),
                        (&gpt, eos),
                        step,
                        set,
                    )?;
                    model = Some((gpt, eos));
                    if let Some(slot) = &slot {
                        slot.write(&measured.0, &measured.1)?;
                    }
                    measured
                }
            };
            rows.extend(part_rows);
            samples_text.push_str(&part_samples);
            done += 1;
            on_part(&PartDone {
                step,
                set: &set.name,
                done,
                total,
                resumed,
            });
        }
    }
    std::fs::create_dir_all(out_dir).map_err(|source| EvaluateError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut metrics_text = String::new();
    for row in &rows {
        metrics_text.push_str(&serde_json::to_string(row)?);
        metrics_text.push('\n');
    }
    let metrics_path = out_dir.join("metrics.jsonl");
    let samples_path = out_dir.join("samples.jsonl");
    write_atomically(&metrics_path, metrics_text.as_bytes())?;
    write_atomically(&samples_path, samples_text.as_bytes())?;
    Ok(EvalOutcome {
        rows,
        metrics_path,
        samples_path,
    })
}

/// Measures one step's model on one set: its rows of `metrics.jsonl`
/// and its lines of `samples.jsonl`.
fn measure_part(
    config: &EvalConfig,
    tokenizer: &Tokenizer,
    forcings: &[FormatForcing],
    reference: Option<&Gpt>,
    (model, eos): (&Gpt, u32),
    step: u64,
    set: &PreparedSet,
) -> Result<(Vec<EvalRow>, String), EvaluateError> {
    let settings = &config.evaluation;
    let needs_samples = settings.metrics.iter().any(|metric| metric.needs_samples());
    let mut rows = Vec::new();
    let mut samples_text = String::new();
    let decode = |ids: &[u32]| tokenizer.decode(ids);
    // Every answer of the part is asked in one call, so that prompts of one
    // length share decoding caches whatever kind of answer they ask for
    // (the answers are the same bits as asked separately).
    let greedy_prompts = set.requests(config.seed, 1);
    let greedy_settings = SamplingSettings {
        temperature: 0.0,
        top_p: 1.0,
        max_new_tokens: settings.max_new_tokens,
    };
    let forced_prompts: Vec<Vec<PromptRequest>> = forcings
        .iter()
        .map(|forcing| forcing.prompts(&greedy_prompts))
        .collect();
    let sampled_prompts = if needs_samples {
        set.requests(config.seed, settings.samples)
    } else {
        Vec::new()
    };
    let sampling = SamplingSettings {
        temperature: settings.temperature,
        top_p: settings.top_p,
        max_new_tokens: settings.max_new_tokens,
    };
    let asks_greedy = settings.metrics.contains(&Metric::PassAtOne);
    let mut requests: Vec<SamplingRequest<'_>> = Vec::new();
    if asks_greedy {
        requests.extend(unconstrained(&greedy_prompts, greedy_settings));
    }
    for (forcing, prompts) in forcings.iter().zip(&forced_prompts) {
        requests.extend(forcing.requests(prompts, settings.max_new_tokens));
    }
    requests.extend(unconstrained(&sampled_prompts, sampling));
    let mut completions = sample_requests(model, &requests, eos, &decode)?.into_iter();
    let mut next =
        |count: usize| -> Vec<Vec<Completion>> { completions.by_ref().take(count).collect() };

    let greedy = if asks_greedy {
        Some(set.grade_all(&next(greedy_prompts.len())))
    } else {
        None
    };
    // Per format of `forcings`: the fraction solved in that format.
    let mut forced = Vec::with_capacity(forcings.len());
    // Written to `samples.jsonl` after the sampled answers.
    let mut forced_samples = String::new();
    for (forcing, prompts) in forcings.iter().zip(&forced_prompts) {
        let answers = forcing.answers(&next(prompts.len()), &set.references);
        for (problem, answer) in answers.iter().enumerate().take(LOGGED_PROBLEMS) {
            let row = SampleRow {
                step,
                set: &set.name,
                problem,
                sample: 0,
                forced: Some(forcing.format.name()),
                question: &set.problems[problem].question,
                completion: &answer.text,
                format: answer.grade.format.name(),
                correct: answer.solved,
            };
            forced_samples.push_str(&serde_json::to_string(&row)?);
            forced_samples.push('\n');
        }
        let solved = answers.iter().filter(|answer| answer.solved).count();
        forced.push((
            forcing.format.name(),
            solved as f64 / answers.len().max(1) as f64,
        ));
    }
    let sampled = if needs_samples {
        let completions = next(sampled_prompts.len());
        let grades = set.grade_all(&completions);
        for (problem, (samples, problem_grades)) in completions
            .iter()
            .zip(&grades)
            .enumerate()
            .take(LOGGED_PROBLEMS)
        {
            if let (Some(completion), Some(graded)) = (samples.first(), problem_grades.first()) {
                let row = SampleRow {
                    step,
                    set: &set.name,
                    problem,
                    sample: 0,
                    forced: None,
                    question: &set.problems[problem].question,
                    completion: &completion.text,
                    format: graded.format.name(),
                    correct: graded.correct,
                };
                samples_text.push_str(&serde_json::to_string(&row)?);
                samples_text.push('\n');
            }
        }
        Some((completions, grades))
    } else {
        None
    };
    samples_text.push_str(&forced_samples);
    let kl = match (reference, &sampled) {
        (Some(reference_model), Some((completions, _))) => {
            Some(set.mean_kl(reference_model, completions, eos)?)
        }
        _ => None,
    };
    let mut row = |metric: Metric, format: Option<&'static str>, value: Option<f64>| {
        rows.push(EvalRow {
            step,
            set: set.name.clone(),
            metric: metric.name(),
            format,
            value,
        });
    };
    let sampled_grades: Vec<&Grade> = sampled
        .iter()
        .flat_map(|(_, grades)| grades.iter().flatten())
        .collect();
    let tally = FormatTally::from_grades(sampled_grades.iter().copied());
    for &metric in &settings.metrics {
        match metric {
            Metric::PassAtOne => {
                let grades = greedy.as_deref().unwrap_or_default();
                let solved = grades
                    .iter()
                    .filter(|problem| problem.first().is_some_and(|grade| grade.correct))
                    .count();
                row(
                    metric,
                    None,
                    Some(solved as f64 / grades.len().max(1) as f64),
                );
            }
            Metric::ForcedPassAtOne => {
                for &(format, value) in &forced {
                    row(metric, Some(format), Some(value));
                }
            }
            Metric::PassAtK(k) => {
                let grades = sampled
                    .as_ref()
                    .map(|(_, grades)| grades.as_slice())
                    .unwrap_or_default();
                let mut total = 0.0;
                for problem in grades {
                    let correct = problem.iter().filter(|grade| grade.correct).count();
                    total += pass_at_k(problem.len(), correct, k)?;
                }
                row(metric, None, Some(total / grades.len().max(1) as f64));
            }
            Metric::MajorityAtK(k) => {
                let grades = sampled
                    .as_ref()
                    .map(|(_, grades)| grades.as_slice())
                    .unwrap_or_default();
                let mut solved = 0usize;
                for (problem, reference) in grades.iter().zip(&set.references) {
                    let answers: Vec<Option<Answer>> =
                        problem.iter().map(|grade| grade.answer).collect();
                    solved += usize::from(majority_at_k(&answers, k, reference)?);
                }
                row(
                    metric,
                    None,
                    Some(solved as f64 / grades.len().max(1) as f64),
                );
            }
            Metric::FormatShare => {
                for format in FORMATS {
                    row(metric, Some(format.name()), Some(tally.share(format)));
                }
            }
            Metric::FormatAccuracy => {
                for format in FORMATS {
                    row(metric, Some(format.name()), tally.accuracy(format));
                }
            }
            Metric::Length => {
                let lengths: Vec<usize> = sampled
                    .iter()
                    .flat_map(|(completions, _)| completions.iter().flatten())
                    .map(|completion| completion.tokens.len() - usize::from(completion.finished))
                    .collect();
                let mean = lengths.iter().sum::<usize>() as f64 / lengths.len().max(1) as f64;
                row(metric, None, Some(mean));
            }
            Metric::Entropy => {
                let (sum, count) = sampled
                    .iter()
                    .flat_map(|(completions, _)| completions.iter().flatten())
                    .flat_map(|completion| completion.entropies.iter())
                    .fold((0.0, 0usize), |(sum, count), entropy| {
                        (sum + entropy, count + 1)
                    });
                row(metric, None, (count > 0).then(|| sum / count as f64));
            }
            Metric::Kl => row(metric, None, kl),
        }
    }
    Ok((rows, samples_text))
}

/// Requests for `prompts` decoded with `settings` and no first-token mask.
fn unconstrained(
    prompts: &[PromptRequest],
    settings: SamplingSettings,
) -> impl Iterator<Item = SamplingRequest<'_>> {
    prompts.iter().map(move |prompt| SamplingRequest {
        prompt,
        settings,
        forbidden_first_tokens: &[],
    })
}

/// A loaded model and its EOS token.
fn load(path: &Path, tokenizer: &Tokenizer, device: &Device) -> Result<(Gpt, u32), EvaluateError> {
    let (artifact, model) = ModelArtifact::load_frozen(path, device)?;
    if artifact.vocabulary_size != tokenizer.vocab_size() {
        return Err(EvaluateError::VocabularyMismatch {
            path: path.to_path_buf(),
            checkpoint: artifact.vocabulary_size,
            tokenizer: tokenizer.vocab_size(),
        });
    }
    Ok((model, artifact.eos_id))
}

/// One evaluation set, ready to be asked.
struct PreparedSet {
    name: String,
    problems: Vec<Document>,
    references: Vec<Answer>,
    prompts: Vec<Vec<u32>>,
}

fn prepare_sets(
    config: &EvalConfig,
    inputs: &EvalInputs,
) -> Result<Vec<PreparedSet>, EvaluateError> {
    inputs
        .sets
        .iter()
        .map(|(name, documents)| {
            let problems: Vec<Document> = documents
                .iter()
                .take(config.evaluation.problems)
                .cloned()
                .collect();
            let references = problems
                .iter()
                .enumerate()
                .map(|(index, document)| {
                    Answer::parse(&document.answer).map_err(|_| EvaluateError::BadReference {
                        set: name.clone(),
                        index,
                        answer: document.answer.clone(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let prompts = problems
                .iter()
                .map(|document| inputs.tokenizer.encode(&prompt_text(&document.question)))
                .collect();
            Ok(PreparedSet {
                name: name.clone(),
                problems,
                references,
                prompts,
            })
        })
        .collect()
}

impl PreparedSet {
    /// One request per problem; sample `j` of problem `i` draws from the
    /// stream labelled with the set's name, derived with `i`, then `j`.
    fn requests(&self, seed: u64, samples: usize) -> Vec<PromptRequest> {
        let stream = Stream::labelled(seed, &format!("evaluation/sampling/{}", self.name));
        self.prompts
            .iter()
            .enumerate()
            .map(|(index, tokens)| PromptRequest {
                tokens: tokens.clone(),
                stream: stream.derive(&[index as u64]),
                samples,
            })
            .collect()
    }

    fn grade_all(&self, completions: &[Vec<Completion>]) -> Vec<Vec<Grade>> {
        completions
            .iter()
            .zip(&self.references)
            .map(|(samples, reference)| {
                samples
                    .iter()
                    .map(|completion| grade(&completion.text, reference))
                    .collect()
            })
            .collect()
    }

    /// The mean over samples of `sum_t log p - log q` over their tokens,
    /// `p` the evaluated model (as the sampler measured it) and `q` the
    /// reference.
    fn mean_kl(
        &self,
        reference: &Gpt,
        completions: &[Vec<Completion>],
        pad: u32,
    ) -> Result<f64, EvaluateError> {
        let mut sequences = Vec::new();
        let mut policy = Vec::new();
        for (prompt, samples) in self.prompts.iter().zip(completions) {
            for completion in samples {
                sequences.push(TrainingSequence::new(prompt, &completion.tokens));
                policy.push(completion.log_probabilities.clone());
            }
        }
        let mut total = 0.0;
        for batch in MicroBatch::plan(&sequences, pad)? {
            let output = batch.forward(reference, None)?;
            let reference_rows = batch.gather(&output.log_probabilities.detach())?;
            for (&index, reference_row) in batch.rows.iter().zip(reference_rows) {
                total += policy[index]
                    .iter()
                    .zip(&reference_row)
                    .map(|(p, q)| p - q)
                    .sum::<f64>();
            }
        }
        Ok(total / sequences.len().max(1) as f64)
    }
}
