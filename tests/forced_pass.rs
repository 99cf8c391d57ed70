//! `forced_pass@1` on a `tiny` model pretrained inside the test on the
//! three rendered formats of one-step synthetic problems: the evaluation
//! writes one row per format with a value in [0, 1], the forced answers
//! are classified as the format they were forced into, and the rows are
//! the same bytes on every run and with one or two threads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use echolab::data::{Document, Format, Level, RenderOptions, Split, SyntheticSource, Tokenizer};
use echolab::evaluation::{
    evaluate_checkpoints, Answer, EvalConfig, EvalInputs, FormatForcing, Metric,
};
use echolab::model::ModelConfig;
use echolab::random::Stream;
use echolab::training::rl::{prompt_text, PromptRequest};
use echolab::training::{pretrain, ModelArtifact, PretrainData, SilentObserver, SourceDocuments};

mod common;

const CHILD_CHECKPOINT: &str = "ECHOLAB_FORCED_CHILD_CHECKPOINT";
const CHILD_DIGEST: &str = "ECHOLAB_FORCED_DIGEST";

/// Questions evaluated.
const PROBLEMS: usize = 24;
/// The answer budget, prefill included.
const MAX_NEW_TOKENS: usize = 72;

/// One-step problems with small numbers, without docstrings (short code).
fn source(format: Option<Format>, split: Split, problems: usize) -> SyntheticSource {
    let mut source = SyntheticSource::new(41, format, problems);
    source.difficulty = 1..=1;
    source.numbers = 2..=9;
    source.split = split;
    source.render = RenderOptions { docstring: false };
    source
}

/// The training documents of every format, the tokenizer, the test set.
fn corpus() -> (Vec<Vec<Document>>, Tokenizer, Vec<Document>) {
    let training: Vec<Vec<Document>> = Format::ALL
        .into_iter()
        .map(|format| source(Some(format), Split::Train, 400).generate().unwrap())
        .collect();
    let test = source(None, Split::Test, PROBLEMS).generate().unwrap();
    let mut texts: Vec<String> = training.iter().flatten().map(Document::text).collect();
    texts.extend(test.iter().map(|document| document.question.clone()));
    (training, Tokenizer::train(Level::Word, &texts), test)
}

/// Pretrains `tiny` (context 128) for 600 steps of 16 x 64 tokens on an
/// equal mixture of the three formats.
fn pretrain_base(dir: &Path) {
    let (training, tokenizer, _) = corpus();
    let mut model = ModelConfig::preset("tiny").unwrap();
    model.context = 128;
    let config = common::pretrain_config(model, 13, 600, 16, 64);
    let sources = Format::ALL
        .into_iter()
        .zip(&training)
        .map(|(format, documents)| {
            let encoded: Vec<Vec<u32>> = documents
                .iter()
                .map(|document| tokenizer.encode_document(&document.text()))
                .collect();
            SourceDocuments {
                name: format.name().into(),
                weight: 1.0,
                held_out: encoded[..4].to_vec(),
                train: encoded,
            }
        })
        .collect();
    let data = PretrainData {
        sources,
        vocabulary_size: tokenizer.vocab_size(),
        eos_id: tokenizer.eos_id(),
    };
    pretrain(&config, &data, dir, &mut SilentObserver).unwrap();
}

/// The pretrained checkpoint, made once per test process.
fn base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("forced_pass_base");
        pretrain_base(&dir);
        dir
    })
}

fn config() -> EvalConfig {
    serde_json::from_str(&format!(
        r#"{{ "evaluation": {{"at": {{"kind": "every", "interval": 10}}, "max_new_tokens": {MAX_NEW_TOKENS},
             "metrics": ["pass@1", "forced_pass@1"],
             "problems": {PROBLEMS}, "samples": 1, "temperature": 1.0, "top_p": 1.0}},
          "model_kind": "pretrain", "seed": 5, "steps": [] }}"#
    ))
    .unwrap()
}

fn inputs(checkpoint: &Path) -> EvalInputs {
    let (_, tokenizer, test) = corpus();
    EvalInputs {
        checkpoints: BTreeMap::from([(0, checkpoint.to_path_buf())]),
        tokenizer,
        reference: None,
        sets: vec![("easy".to_string(), test)],
    }
}

#[test]
fn forced_rows_appear_for_every_format_and_answers_stay_in_their_format() {
    let work = tempfile::tempdir().unwrap();
    let inputs = inputs(base());
    let first = evaluate_checkpoints(&config(), &inputs, &work.path().join("first")).unwrap();
    let second = evaluate_checkpoints(&config(), &inputs, &work.path().join("second")).unwrap();
    assert_eq!(
        std::fs::read(&first.metrics_path).unwrap(),
        std::fs::read(&second.metrics_path).unwrap(),
        "metrics.jsonl differs between runs"
    );
    assert_eq!(
        std::fs::read(&first.samples_path).unwrap(),
        std::fs::read(&second.samples_path).unwrap(),
        "samples.jsonl differs between runs"
    );
    // `samples.jsonl`: the forced answers of the first four problems per
    // format (no sampled answers are asked for here).
    let samples: Vec<serde_json::Value> = std::fs::read_to_string(&first.samples_path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(samples.len(), 3 * 4);
    for (index, sample) in samples.iter().enumerate() {
        let format = Format::ALL[index / 4];
        assert_eq!(sample["forced"], format.name());
        assert_eq!(sample["problem"], index % 4);
        let completion = sample["completion"].as_str().unwrap();
        assert!(completion.starts_with(echolab::data::solution_opening(format)));
    }
    let text = std::fs::read_to_string(&first.metrics_path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with(r#"{"step":0,"set":"easy","metric":"pass@1","value":"#));
    let mut forced = BTreeMap::new();
    for (line, format) in lines[1..].iter().zip(["code", "code_text", "prose"]) {
        let prefix = format!(
            r#"{{"step":0,"set":"easy","metric":"forced_pass@1","format":"{format}","value":"#
        );
        assert!(line.starts_with(&prefix), "{line}");
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let value = row["value"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&value), "{line}");
        forced.insert(format, value);
    }
    eprintln!("pass@1 {} forced {forced:?}", lines[0]);

    // The forced answers themselves, from the library: their format.
    let (artifact, model, _) = ModelArtifact::load(base(), &candle_core::Device::Cpu).unwrap();
    let (_, tokenizer, test) = corpus();
    let stream = Stream::new(5);
    let prompts: Vec<PromptRequest> = test
        .iter()
        .enumerate()
        .map(|(index, document)| PromptRequest {
            tokens: tokenizer.encode(&prompt_text(&document.question)),
            stream: stream.derive(&[index as u64]),
            samples: 1,
        })
        .collect();
    let references: Vec<Answer> = test
        .iter()
        .map(|document| Answer::parse(&document.answer).unwrap())
        .collect();
    let decode = |ids: &[u32]| tokenizer.decode(ids);
    for forcing in FormatForcing::all(&tokenizer) {
        let answers = forcing
            .answer_greedily(
                &model,
                &prompts,
                &references,
                MAX_NEW_TOKENS,
                artifact.eos_id,
                &decode,
            )
            .unwrap();
        assert_eq!(answers.len(), PROBLEMS);
        let in_format =
            answers.iter().filter(|answer| answer.in_format).count() as f64 / PROBLEMS as f64;
        let solved = answers.iter().filter(|answer| answer.solved).count() as f64 / PROBLEMS as f64;
        let name = forcing.format.name();
        eprintln!("{name}: in format {in_format}, solved {solved}");
        // The metric is exactly the share solved in the format.
        assert_eq!(forced[name], solved);
        for answer in &answers {
            assert!(answer.text.starts_with(forcing.prefill_text));
            assert!(!answer.solved || answer.grade.correct);
        }
        match forcing.format {
            Format::Code | Format::CodeText => assert!(in_format >= 0.9, "{name}: {in_format}"),
            Format::Prose => {
                let openings: Vec<String> = forcing
                    .forbidden_first_tokens
                    .iter()
                    .map(|&token| tokenizer.token_text(token))
                    .collect();
                assert_eq!(openings, ["Let", "def"]);
                for answer in &answers {
                    assert!(
                        openings
                            .iter()
                            .all(|opening| !answer.text.starts_with(opening)),
                        "{}",
                        answer.text
                    );
                }
                // A prose answer may still drift into code after its first
                // token; it then counts as wrong (measured: 22 of 24 stay).
                assert!(in_format >= 0.5, "prose: {in_format}");
            }
        }
    }
    // Measured (600 steps of `tiny`): code and code_text answers stay in
    // their format but do not yet copy the question's names right (0 and
    // 0 solved); prose solves 3 of 24. The metric is not trivially zero.
    assert!(forced.values().any(|value| *value > 0.0), "{forced:?}");
}

#[test]
#[ignore = "entry point of the child processes of the thread-count test"]
fn child_forced_evaluation() {
    let checkpoint = PathBuf::from(std::env::var(CHILD_CHECKPOINT).unwrap());
    let work = tempfile::tempdir().unwrap();
    let mut config = config();
    config.evaluation.metrics = vec![Metric::ForcedPassAtOne];
    let outcome = evaluate_checkpoints(&config, &inputs(&checkpoint), work.path()).unwrap();
    let mut hasher = blake3::Hasher::new();
    hasher.update(&std::fs::read(&outcome.metrics_path).unwrap());
    hasher.update(&std::fs::read(&outcome.samples_path).unwrap());
    println!("{CHILD_DIGEST}={}", hasher.finalize().to_hex());
}

#[test]
fn forced_rows_are_the_same_bits_with_one_or_two_threads() {
    let checkpoint = base();
    let digest = |threads: &str| {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "child_forced_evaluation",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_CHECKPOINT, checkpoint)
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .find_map(|line| {
                line.split_once(&format!("{CHILD_DIGEST}="))
                    .map(|(_, digest)| digest[..64.min(digest.len())].to_string())
            })
            .expect("the child prints its digest")
    };
    assert_eq!(digest("1"), digest("2"));
}
