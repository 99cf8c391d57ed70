//! The evaluation stage on small seeded models: the rows have the stable
//! fields and add up, the files are the same bytes on every run, every
//! step answers with the same random numbers, the KL of a model to itself
//! is zero, missing inputs are reported, and parts kept in a work folder
//! resume to the same bytes.

use std::collections::BTreeMap;
use std::path::Path;

use echolab::data::{Document, Level, Split, Tokenizer};
use echolab::evaluation::{
    evaluate_checkpoints, evaluate_checkpoints_in, EvalConfig, EvalInputs, EvaluateError,
    EvaluationPart, PartDone,
};
use echolab::model::{Gpt, ModelConfig};
use echolab::random::Stream;
use echolab::training::{ModelArtifact, MODEL_ARTIFACT_FORMAT_VERSION};

fn problems() -> Vec<Document> {
    (1..=5)
        .map(|a| Document {
            source: "sums".into(),
            format: None,
            question: format!("What is {a} plus {a}?"),
            solution: None,
            answer: (2 * a).to_string(),
            noisy: false,
            split: Split::Test,
        })
        .collect()
}

fn tokenizer() -> Tokenizer {
    let texts = [
        "What is 1 plus 2?\n\n\\boxed{3}",
        "def f():\n    return 4",
        "<llm-code>\n2 + 2\n</llm-code>\nThus, the answer is 4.",
    ];
    Tokenizer::train(Level::Word, &texts)
}

/// Writes a freshly initialised `tiny` model (context 48) seeded by `seed`.
fn write_checkpoint(dir: &Path, seed: u64, tokenizer: &Tokenizer) {
    let mut config = ModelConfig::preset("tiny").unwrap();
    config.context = 48;
    let vocabulary_size = tokenizer.vocab_size();
    let (_, parameters) = Gpt::initialize(
        &config,
        vocabulary_size,
        &Stream::new(seed),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let weights = parameters.to_safetensors().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(ModelArtifact::weights_path(dir), &weights).unwrap();
    let artifact = ModelArtifact {
        format_version: MODEL_ARTIFACT_FORMAT_VERSION,
        model: config,
        vocabulary_size,
        eos_id: tokenizer.eos_id(),
        parameter_count: parameters.scalar_count().unwrap(),
        weights_blake3: blake3::hash(&weights).to_hex().to_string(),
        steps: 0,
        tokens: 0,
        seed,
    };
    std::fs::write(
        ModelArtifact::config_path(dir),
        serde_json::to_vec_pretty(&artifact).unwrap(),
    )
    .unwrap();
}

fn config(steps: &str, kind: &str) -> EvalConfig {
    serde_json::from_str(&format!(
        r#"{{ "evaluation": {{"at": {{"kind": "every", "interval": 10}}, "max_new_tokens": 12,
             "metrics": ["pass@1", "pass@2", "pass@4", "maj@4", "format_share", "format_accuracy", "length", "entropy", "kl"],
             "problems": 4, "samples": 4, "temperature": 1.0, "top_p": 0.95}},
          "model_kind": "{kind}", "seed": 77, "steps": {steps} }}"#
    ))
    .unwrap()
}

fn rows(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn value(
    rows: &[serde_json::Value],
    step: u64,
    metric: &str,
    format: Option<&str>,
) -> serde_json::Value {
    rows.iter()
        .find(|row| {
            row["step"] == step
                && row["set"] == "sums"
                && row["metric"] == metric
                && format.is_none_or(|format| row["format"] == format)
        })
        .unwrap_or_else(|| panic!("no row for {step} {metric} {format:?}"))["value"]
        .clone()
}

#[test]
fn rows_are_complete_consistent_and_the_same_bytes_on_every_run() {
    let work = tempfile::tempdir().unwrap();
    let tokenizer = tokenizer();
    write_checkpoint(&work.path().join("base"), 1, &tokenizer);
    write_checkpoint(&work.path().join("other"), 2, &tokenizer);
    // Steps 0 and 10 are the same model: with streams that do not depend
    // on the step, their rows must agree.
    let checkpoints = BTreeMap::from([
        (0, work.path().join("base")),
        (10, work.path().join("base")),
        (20, work.path().join("other")),
    ]);
    let inputs = EvalInputs {
        checkpoints,
        tokenizer,
        reference: Some(work.path().join("base")),
        sets: vec![("sums".to_string(), problems())],
    };
    let config = config("[0, 10, 20]", "rl");
    let first = evaluate_checkpoints(&config, &inputs, &work.path().join("first")).unwrap();
    let second = evaluate_checkpoints(&config, &inputs, &work.path().join("second")).unwrap();
    for file in ["metrics.jsonl", "samples.jsonl"] {
        assert!(
            std::fs::read(work.path().join("first").join(file)).unwrap()
                == std::fs::read(work.path().join("second").join(file)).unwrap(),
            "{file} differs between runs"
        );
    }
    let rows = rows(&first.metrics_path);
    // Per step: pass@1, pass@2, pass@4, maj@4, 4 + 4 format rows, length,
    // entropy, kl.
    assert_eq!(rows.len(), 3 * 15);
    assert_eq!(first.rows.len(), rows.len());
    assert_eq!(first.rows, second.rows);
    for row in &rows {
        let keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let expected: &[&str] = if row.get("format").is_some() {
            &["format", "metric", "set", "step", "value"]
        } else {
            &["metric", "set", "step", "value"]
        };
        assert_eq!(keys, expected);
    }
    for step in [0, 10, 20] {
        let shares: f64 = ["code", "code_text", "prose", "unknown"]
            .iter()
            .map(|format| {
                value(&rows, step, "format_share", Some(format))
                    .as_f64()
                    .unwrap()
            })
            .sum();
        assert!((shares - 1.0).abs() < 1e-12);
        for format in ["code", "code_text", "prose", "unknown"] {
            let share = value(&rows, step, "format_share", Some(format))
                .as_f64()
                .unwrap();
            let accuracy = value(&rows, step, "format_accuracy", Some(format));
            assert_eq!(
                share == 0.0,
                accuracy.is_null(),
                "{format}: {share} {accuracy}"
            );
        }
        let pass = |k: &str| value(&rows, step, k, None).as_f64().unwrap();
        assert!(pass("pass@2") <= pass("pass@4"));
        assert!((0.0..=1.0).contains(&pass("maj@4")));
        let length = pass("length");
        assert!(length > 0.0 && length <= 12.0, "length {length}");
        let entropy = pass("entropy");
        let uniform = (inputs.tokenizer.vocab_size() as f64).ln();
        assert!(
            entropy > 0.0 && entropy <= uniform + 1e-9,
            "entropy {entropy}"
        );
    }
    let same_step = |step: u64| -> Vec<serde_json::Value> {
        rows.iter()
            .filter(|row| row["step"] == step)
            .map(|row| {
                let mut row = row.clone();
                row["step"] = serde_json::json!(0);
                row
            })
            .collect()
    };
    assert_eq!(same_step(0), same_step(10));
    // The reference against itself: only the cache's rounding remains.
    let self_kl = value(&rows, 0, "kl", None).as_f64().unwrap();
    assert!(self_kl.abs() < 1e-3, "self KL {self_kl}");
    let other_kl = value(&rows, 20, "kl", None).as_f64().unwrap();
    assert!(other_kl > 1e-3, "KL to another model {other_kl}");
    let samples = std::fs::read_to_string(&first.samples_path).unwrap();
    assert_eq!(samples.lines().count(), 3 * 4);
}

#[test]
fn a_pretrained_model_is_step_zero_and_missing_inputs_are_errors() {
    let work = tempfile::tempdir().unwrap();
    let tokenizer = tokenizer();
    write_checkpoint(&work.path().join("base"), 1, &tokenizer);
    let mut inputs = EvalInputs {
        checkpoints: BTreeMap::from([(0, work.path().join("base"))]),
        tokenizer,
        reference: None,
        sets: vec![("sums".to_string(), problems())],
    };
    let mut config = config("[]", "pretrain");
    assert!(matches!(
        evaluate_checkpoints(&config, &inputs, &work.path().join("out")),
        Err(EvaluateError::MissingReference)
    ));
    config
        .evaluation
        .metrics
        .retain(|metric| metric.name() != "kl");
    let outcome = evaluate_checkpoints(&config, &inputs, &work.path().join("out")).unwrap();
    assert!(outcome.rows.iter().all(|row| row.step == 0));
    assert_eq!(outcome.rows.len(), 14);
    inputs.checkpoints.clear();
    assert!(matches!(
        evaluate_checkpoints(&config, &inputs, &work.path().join("out")),
        Err(EvaluateError::MissingCheckpoint { step: 0 })
    ));
}

/// The files of an evaluation's output folder.
fn files(folder: &Path) -> [Vec<u8>; 2] {
    ["metrics.jsonl", "samples.jsonl"].map(|file| std::fs::read(folder.join(file)).unwrap())
}

#[test]
fn kept_parts_resume_to_the_same_bytes_and_a_damaged_or_foreign_part_stops_the_evaluation() {
    let folder = tempfile::tempdir().unwrap();
    let root = folder.path();
    let tokenizer = tokenizer();
    write_checkpoint(&root.join("base"), 1, &tokenizer);
    write_checkpoint(&root.join("other"), 2, &tokenizer);
    let inputs = EvalInputs {
        checkpoints: BTreeMap::from([(0, root.join("base")), (10, root.join("other"))]),
        tokenizer,
        reference: Some(root.join("base")),
        sets: vec![
            ("sums".to_string(), problems()),
            ("more sums".to_string(), problems()),
        ],
    };
    let config = config("[0, 10]", "rl");
    let work = root.join("work");
    let mut heard = Vec::new();
    let mut listen = |part: &PartDone<'_>| {
        heard.push((
            part.step,
            part.set.to_string(),
            part.done,
            part.total,
            part.resumed,
        ));
    };
    let plain = evaluate_checkpoints(&config, &inputs, &root.join("plain")).unwrap();
    let kept =
        evaluate_checkpoints_in(&config, &inputs, &root.join("kept"), &work, &mut listen).unwrap();
    assert_eq!(files(&root.join("kept")), files(&root.join("plain")));
    assert_eq!(kept.rows, plain.rows);
    assert_eq!(
        heard,
        [
            (0, "sums".to_string(), 1, 4, false),
            (0, "more sums".to_string(), 2, 4, false),
            (10, "sums".to_string(), 3, 4, false),
            (10, "more sums".to_string(), 4, 4, false),
        ]
    );
    assert_eq!(EvaluationPart::count(&work).unwrap(), 4);

    // A run killed after three parts: the fourth is measured again and
    // the others are read back, to the same bytes.
    std::fs::remove_file(EvaluationPart::path(&work, 10, 1)).unwrap();
    let mut resumed = Vec::new();
    let mut listen = |part: &PartDone<'_>| resumed.push(part.resumed);
    evaluate_checkpoints_in(&config, &inputs, &root.join("resumed"), &work, &mut listen).unwrap();
    assert_eq!(resumed, [true, true, true, false]);
    assert_eq!(files(&root.join("resumed")), files(&root.join("plain")));

    // Parts of another evaluation (another seed) are refused, naming the
    // first one read.
    let mut other_seed = config.clone();
    other_seed.seed += 1;
    match evaluate_checkpoints_in(
        &other_seed,
        &inputs,
        &root.join("other"),
        &work,
        &mut |_| {},
    ) {
        Err(EvaluateError::PartMismatch { path }) => {
            assert_eq!(path, EvaluationPart::path(&work, 0, 0));
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }

    // A damaged part stops the evaluation, names the file and stays.
    let damaged = EvaluationPart::path(&work, 10, 0);
    std::fs::write(&damaged, "{\"format_version\": 1, \"step\"").unwrap();
    let error = evaluate_checkpoints_in(&config, &inputs, &root.join("again"), &work, &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(&error, EvaluateError::UnreadablePart { path, .. } if path == &damaged),
        "{error}"
    );
    assert!(error.to_string().contains(&damaged.display().to_string()));
    assert_eq!(
        std::fs::read_to_string(&damaged).unwrap(),
        "{\"format_version\": 1, \"step\""
    );
    assert!(!root.join("again").join("metrics.jsonl").exists());
}
