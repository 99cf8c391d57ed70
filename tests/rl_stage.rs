//! The RL stage end to end on a `tiny` model pretrained inside the test:
//! every algorithm raises the training reward (by moving the answers onto
//! the format that is right: an echo chamber in miniature), the same run
//! twice writes the same bytes, a run killed with SIGKILL or resumed from
//! a copied checkpoint ends with the same bytes, and a non-finite loss
//! stops the run with its step.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use echolab::data::{Document, Format, Level, Split, Tokenizer};
use echolab::model::ModelConfig;
use echolab::random::Stream;
use echolab::training::rl::{run, RlConfig, RlError, RlInputs};
use echolab::training::{
    pretrain, ModelArtifact, PretrainData, SilentObserver, SourceDocuments, TrainingError,
};

mod common;

const CHILD_BASE: &str = "ECHOLAB_RL_CHILD_BASE";
const CHILD_DIR: &str = "ECHOLAB_RL_CHILD_DIR";

/// Questions `a` runs over.
const RANGE: u32 = 9;

/// "What is a minus a?": the answer is always 0.
fn question(a: u32) -> String {
    format!("What is {a} minus {a}?")
}

/// The task: pretraining documents answer in prose that ends `\boxed{0}`
/// (right) in 30% of the cases and in code returning `a * 0 + 1` (wrong)
/// in 70%. The pretrained model mostly writes the wrong format, so RL can
/// raise the reward only by moving its answers onto the right one.
fn training_document(a: u32, format: Format) -> Document {
    let solution = match format {
        Format::Code => format!("def f():\n    return {a} * 0 + 1"),
        _ => format!("{a} - {a} = \\boxed{{0}}"),
    };
    Document {
        source: format.name().into(),
        format: Some(format),
        question: question(a),
        solution: Some(solution),
        answer: "0".into(),
        noisy: format == Format::Code,
        split: Split::Train,
    }
}

/// The tokenizer, the pretraining texts and the RL prompts.
fn corpus() -> (Tokenizer, Vec<String>, Vec<Document>) {
    let mut stream = Stream::new(11);
    let texts: Vec<String> = (0..400)
        .map(|index| {
            let format = if stream.next_f64() < 0.3 {
                Format::Prose
            } else {
                Format::Code
            };
            training_document(1 + index % RANGE, format).text()
        })
        .collect();
    let tokenizer = Tokenizer::train(Level::Word, &texts);
    let prompts = (1..=RANGE)
        .map(|a| Document {
            source: "subtraction".into(),
            format: None,
            question: question(a),
            solution: None,
            answer: "0".into(),
            noisy: false,
            split: Split::Train,
        })
        .collect();
    (tokenizer, texts, prompts)
}

/// Pretrains the `tiny` preset (context 32) for 100 steps of 16 x 32
/// tokens into `dir`: enough to write both formats cleanly.
fn pretrain_base(dir: &Path) {
    let (tokenizer, texts, _) = corpus();
    let mut model = ModelConfig::preset("tiny").expect("the tiny preset exists");
    model.context = 32;
    let config = common::pretrain_config(model, 5, 100, 16, 32);
    let encoded: Vec<Vec<u32>> = texts
        .iter()
        .map(|text| tokenizer.encode_document(text))
        .collect();
    let data = PretrainData {
        sources: vec![SourceDocuments {
            name: "mixed".into(),
            weight: 1.0,
            held_out: encoded[..4].to_vec(),
            train: encoded,
        }],
        vocabulary_size: tokenizer.vocab_size(),
        eos_id: tokenizer.eos_id(),
    };
    pretrain(&config, &data, dir, &mut SilentObserver).expect("pretraining succeeds");
}

/// The pretrained checkpoint, made once per test process.
fn base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rl_stage_base");
        pretrain_base(&dir);
        dir
    })
}

fn inputs(checkpoint: &Path) -> RlInputs {
    let (tokenizer, _, prompts) = corpus();
    RlInputs {
        checkpoint: checkpoint.to_path_buf(),
        tokenizer,
        prompts,
    }
}

/// A configuration in the compiler's JSON.
fn config(algorithm: &str, kl: &str, steps: u64, prompts: usize, samples: usize) -> RlConfig {
    let json = format!(
        r#"{{ "seed": 9, "snapshots": [0, 3, {steps}],
      "training": {{
        "algorithm": {algorithm},
        "checkpoint_every": 3, "gradient_clip": 1.0,
        "kl": {kl},
        "max_new_tokens": 16,
        "optimizer": {{"kind": "adamw", "betas": [0.9, 0.95], "eps": 1e-8, "lr": 3e-3, "weight_decay": 0.0}},
        "prompts_per_step": {prompts}, "samples_per_prompt": {samples},
        "schedule": {{"kind": "constant", "warmup": 0}},
        "steps": {steps}, "temperature": 1.0, "top_p": 1.0 }} }}"#
    );
    serde_json::from_str(&json).expect("the configuration parses")
}

const PPO: &str = r#"{"kind":"ppo","clip":0.2,"epochs":2,"gae_lambda":0.95,"gamma":1.0,"value_clip":0.2,"value_coefficient":0.5}"#;
const GRPO: &str = r#"{"kind":"grpo","clip":0.2,"epochs":1}"#;
const REINFORCE: &str = r#"{"kind":"reinforce"}"#;
const EXPERT_ITERATION: &str =
    r#"{"kind":"expert_iteration","rounds":2,"restart":false,"sft_epochs":2,"sft_lr":0.003}"#;
const CONSTANT_KL: &str = r#"{"kind":"constant","coefficient":0.001}"#;
const ADAPTIVE_KL: &str = r#"{"kind":"adaptive","target":1.0,"horizon":100,"initial":0.01}"#;

fn metrics(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .expect("metrics.jsonl exists")
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect()
}

fn field(record: &serde_json::Value, path: &[&str]) -> f64 {
    let mut value = record;
    for key in path {
        value = &value[*key];
    }
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{path:?} missing in {record}"))
}

/// Runs `algorithm` for 8 steps of 8 x 8 samples and checks that the
/// reward and the right format's share rise.
fn raises_the_reward(algorithm: &str) {
    let work = tempfile::tempdir().unwrap();
    let config = config(algorithm, CONSTANT_KL, 8, 8, 8);
    let outcome = run(&config, &inputs(base()), work.path(), &mut SilentObserver).unwrap();
    let records = metrics(work.path());
    assert_eq!(records.len(), 8);
    let mean = |records: &[serde_json::Value], path: &[&str]| {
        records
            .iter()
            .map(|record| field(record, path))
            .sum::<f64>()
            / records.len() as f64
    };
    let before = mean(&records[..2], &["reward"]);
    let after = mean(&records[5..], &["reward"]);
    assert!(
        after >= before + 0.2 && after >= 0.75,
        "reward {before:.3} -> {after:.3}"
    );
    let prose_before = mean(&records[..2], &["format_share", "prose"]);
    let prose_after = mean(&records[5..], &["format_share", "prose"]);
    assert!(
        prose_after > prose_before + 0.2,
        "prose share {prose_before:.3} -> {prose_after:.3}"
    );
    for record in &records {
        let shares: f64 = ["code", "code_text", "prose", "unknown"]
            .iter()
            .map(|format| field(record, &["format_share", format]))
            .sum();
        assert!((shares - 1.0).abs() < 1e-9);
        assert_eq!(field(record, &["reward"]), field(record, &["accuracy"]));
        assert_eq!(field(record, &["kl_coefficient"]), 0.001);
        assert!(field(record, &["completion_length"]) > 0.0);
    }
    for step in [0, 3, 8] {
        let snapshot = work.path().join(format!("snapshots/step-{step}"));
        ModelArtifact::load(&snapshot, &candle_core::Device::Cpu).unwrap();
    }
    let (artifact, _, parameters) =
        ModelArtifact::load(work.path(), &candle_core::Device::Cpu).unwrap();
    assert_eq!(parameters.digest().unwrap(), outcome.weights_blake3);
    assert_eq!(artifact.steps, 8);
    let samples = std::fs::read_to_string(work.path().join("samples.jsonl")).unwrap();
    assert_eq!(samples.lines().count(), 16, "two samples per step");
}

#[test]
fn ppo_raises_the_training_reward() {
    raises_the_reward(PPO);
}

#[test]
fn grpo_raises_the_training_reward() {
    raises_the_reward(GRPO);
}

#[test]
fn reinforce_raises_the_training_reward() {
    raises_the_reward(REINFORCE);
}

#[test]
fn expert_iteration_raises_the_training_reward() {
    raises_the_reward(EXPERT_ITERATION);
}

/// Every file under `dir`, relative path and bytes, sorted.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.push((path.strip_prefix(dir).unwrap().to_path_buf(), bytes));
            }
        }
    }
    files.sort();
    files
}

fn assert_same_tree(left: &Path, right: &Path) {
    let left_tree = tree(left);
    let right_tree = tree(right);
    let names = |tree: &[(PathBuf, Vec<u8>)]| {
        tree.iter()
            .map(|(path, _)| path.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&left_tree), names(&right_tree));
    for ((path, left_bytes), (_, right_bytes)) in left_tree.iter().zip(&right_tree) {
        assert!(left_bytes == right_bytes, "`{}` differs", path.display());
    }
}

/// Steps of the run the kill test interrupts: long enough that it is still
/// running 700 ms after its first checkpoint (24 steps no longer were).
const LONG_RUN_STEPS: u64 = 96;

/// The run the kill test interrupts: PPO with the adaptive KL controller,
/// so weights, moments, the value head and the controller all resume.
fn long_config() -> RlConfig {
    config(PPO, ADAPTIVE_KL, LONG_RUN_STEPS, 4, 4)
}

#[test]
#[ignore = "entry point of the child process that the kill test starts"]
fn child_rl_run() {
    let base = PathBuf::from(std::env::var(CHILD_BASE).expect("base directory"));
    let dir = PathBuf::from(std::env::var(CHILD_DIR).expect("work directory"));
    run(&long_config(), &inputs(&base), &dir, &mut SilentObserver).unwrap();
}

#[test]
fn a_run_killed_with_sigkill_resumes_to_the_bytes_of_an_uninterrupted_run() {
    let killed = tempfile::tempdir().unwrap();
    let process = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_rl_run",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_BASE, base())
        .env(CHILD_DIR, killed.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    common::kill_after_first_checkpoint(
        process,
        killed.path(),
        Duration::from_secs(120),
        Duration::from_millis(700),
    );
    let outcome = run(
        &long_config(),
        &inputs(base()),
        killed.path(),
        &mut SilentObserver,
    )
    .unwrap();
    let resumed_from = outcome.resumed_from.expect("the run resumed");
    assert!(resumed_from > 0 && resumed_from < LONG_RUN_STEPS);
    let steps: Vec<f64> = metrics(killed.path())
        .iter()
        .map(|record| field(record, &["step"]))
        .collect();
    let expected: Vec<f64> = (1..=LONG_RUN_STEPS).map(|step| step as f64).collect();
    assert_eq!(steps, expected);

    let uninterrupted = tempfile::tempdir().unwrap();
    run(
        &long_config(),
        &inputs(base()),
        uninterrupted.path(),
        &mut SilentObserver,
    )
    .unwrap();
    assert_same_tree(killed.path(), uninterrupted.path());
}

#[test]
fn the_same_run_twice_and_a_run_resumed_from_a_copied_checkpoint_write_the_same_bytes() {
    // Expert Iteration checkpoints in the middle of a round (step 6 of a
    // round ending at 8), so the kept samples must be resumed too.
    let config = config(EXPERT_ITERATION, CONSTANT_KL, 8, 4, 4);
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    for dir in [&first, &second] {
        run(&config, &inputs(base()), dir.path(), &mut SilentObserver).unwrap();
    }
    assert_same_tree(first.path(), second.path());

    let resumed = tempfile::tempdir().unwrap();
    let copy = |from: &Path, to: &Path| {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                let target = to.join(path.file_name().unwrap());
                std::fs::create_dir_all(&target).unwrap();
                for inner in std::fs::read_dir(&path).unwrap() {
                    let inner = inner.unwrap().path();
                    std::fs::copy(&inner, target.join(inner.file_name().unwrap())).unwrap();
                }
            } else {
                std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
            }
        }
    };
    copy(
        &first.path().join("checkpoints"),
        &resumed.path().join("checkpoints"),
    );
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(resumed.path().join("checkpoints/step-00000006/state.json")).unwrap(),
    )
    .unwrap();
    assert!(
        !state["kept"].as_array().unwrap().is_empty(),
        "mid-round samples are saved"
    );
    // The metrics and snapshots of the first six steps, as a killed run leaves them.
    std::fs::copy(
        first.path().join("metrics.jsonl"),
        resumed.path().join("metrics.jsonl"),
    )
    .unwrap();
    std::fs::copy(
        first.path().join("samples.jsonl"),
        resumed.path().join("samples.jsonl"),
    )
    .unwrap();
    copy(
        &first.path().join("snapshots/step-0"),
        &resumed.path().join("snapshots/step-0"),
    );
    copy(
        &first.path().join("snapshots/step-3"),
        &resumed.path().join("snapshots/step-3"),
    );
    let outcome = run(
        &config,
        &inputs(base()),
        resumed.path(),
        &mut SilentObserver,
    )
    .unwrap();
    assert_eq!(outcome.resumed_from, Some(6));
    assert_same_tree(first.path(), resumed.path());
}

#[test]
fn a_non_finite_loss_stops_the_run_with_its_step() {
    let work = tempfile::tempdir().unwrap();
    let mut config = config(GRPO, CONSTANT_KL, 4, 2, 4);
    config.training.optimizer = serde_json::from_str(
        r#"{"kind":"adamw","betas":[0.9,0.95],"eps":1e-8,"lr":1e30,"weight_decay":0.0}"#,
    )
    .unwrap();
    match run(&config, &inputs(base()), work.path(), &mut SilentObserver) {
        Err(RlError::NonFiniteLoss { step, .. }) | Err(RlError::NonFiniteGradient { step, .. }) => {
            assert!(step >= 2, "the first step is finite, got step {step}");
        }
        other => panic!("expected a non-finite loss, got {other:?}"),
    }
    assert!(!work.path().join("model.safetensors").exists());
}

#[test]
fn a_checkpoint_of_another_configuration_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let config = config(REINFORCE, CONSTANT_KL, 4, 2, 2);
    run(&config, &inputs(base()), work.path(), &mut SilentObserver).unwrap();
    let mut other = config.clone();
    other.seed += 1;
    assert!(matches!(
        run(&other, &inputs(base()), work.path(), &mut SilentObserver),
        Err(RlError::Training(TrainingError::CheckpointMismatch { .. }))
    ));
}

#[test]
fn evaluating_the_snapshots_shows_the_collapse_onto_the_right_format() {
    use echolab::evaluation::{evaluate_checkpoints, EvalConfig, EvalInputs};
    let work = tempfile::tempdir().unwrap();
    let config = config(GRPO, CONSTANT_KL, 8, 8, 8);
    run(&config, &inputs(base()), work.path(), &mut SilentObserver).unwrap();
    let evaluation: EvalConfig = serde_json::from_str(
        r#"{ "evaluation": {"at": {"kind": "every", "interval": 4}, "max_new_tokens": 16,
             "metrics": ["pass@1", "pass@8", "maj@8", "format_share", "format_accuracy", "length", "entropy", "kl"],
             "problems": 9, "samples": 8, "temperature": 1.0, "top_p": 1.0},
          "model_kind": "rl", "seed": 3, "steps": [0, 8] }"#,
    )
    .unwrap();
    let (tokenizer, _, prompts) = corpus();
    let eval_inputs = EvalInputs {
        checkpoints: [0, 8]
            .into_iter()
            .map(|step| (step, work.path().join(format!("snapshots/step-{step}"))))
            .collect(),
        tokenizer,
        reference: Some(base().to_path_buf()),
        sets: vec![("subtraction".to_string(), prompts)],
    };
    let outcome =
        evaluate_checkpoints(&evaluation, &eval_inputs, &work.path().join("eval")).unwrap();
    let value = |step: u64, metric: &str, format: Option<&str>| {
        outcome
            .rows
            .iter()
            .find(|row| row.step == step && row.metric == metric && row.format == format)
            .and_then(|row| row.value)
            .unwrap_or_else(|| panic!("no value for {step} {metric} {format:?}"))
    };
    // Code answers return 1: never right; prose answers box 0: right.
    assert_eq!(value(0, "format_accuracy", Some("code")), 0.0);
    assert!(value(0, "format_accuracy", Some("prose")) > 0.9);
    assert!(
        value(8, "format_share", Some("prose")) > value(0, "format_share", Some("prose")) + 0.3,
        "prose share {} -> {}",
        value(0, "format_share", Some("prose")),
        value(8, "format_share", Some("prose"))
    );
    assert!(value(8, "maj@8", None) >= value(0, "maj@8", None));
    assert!(value(0, "kl", None).abs() < 1e-3, "step 0 is the reference");
    assert!(value(8, "kl", None) > 0.1);
}
