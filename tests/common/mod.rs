//! Helpers shared by the integration tests that train small models inside
//! the test (`mod common;` in each): the pretraining settings they share,
//! and killing a training child process once it has written a checkpoint.

#![allow(dead_code, reason = "each test file uses only some of the helpers")]

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use echolab::model::ModelConfig;
use echolab::training::{AdamWConfig, DecayKind, LearningRateSchedule, PretrainConfig, Warmup};

/// Pretraining `model` for `steps` steps of `batch_size` sequences of
/// `sequence_length` tokens with the settings every such test uses: AdamW
/// (learning rate 1e-2, betas 0.9 and 0.95, weight decay 0.1), cosine decay
/// to 10% after a 5% warmup, clipping at 1.0; no checkpoints, the held-out
/// loss only at the end, on one sequence per source. Callers change the
/// fields they test.
pub fn pretrain_config(
    model: ModelConfig,
    seed: u64,
    steps: u64,
    batch_size: usize,
    sequence_length: usize,
) -> PretrainConfig {
    PretrainConfig {
        model,
        seed,
        token_budget: steps * (batch_size * sequence_length) as u64,
        batch_size,
        sequence_length,
        optimizer: AdamWConfig {
            learning_rate: 1e-2,
            beta1: 0.9,
            beta2: 0.95,
            epsilon: 1e-8,
            weight_decay: 0.1,
        },
        schedule: LearningRateSchedule {
            decay: DecayKind::Cosine,
            warmup: Warmup::Fraction(0.05),
            final_fraction: 0.1,
        },
        gradient_clip: Some(1.0),
        checkpoint_interval: 0,
        evaluation_interval: 0,
        held_out_sequences: 1,
    }
}

/// Waits (at most `timeout`) until the training run of `process` in
/// `directory` has written its first checkpoint, lets it run `settle`
/// longer (into a later checkpoint or the middle of writing one), then
/// kills it with SIGKILL and checks that it had not finished yet.
pub fn kill_after_first_checkpoint(
    mut process: Child,
    directory: &Path,
    timeout: Duration,
    settle: Duration,
) {
    let pointer = directory.join("checkpoints/latest.json");
    let deadline = Instant::now() + timeout;
    while !pointer.exists() {
        assert!(Instant::now() < deadline, "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(settle);
    process.kill().unwrap(); // SIGKILL on Unix
    process.wait().unwrap();
    assert!(
        !directory.join("model.safetensors").exists(),
        "the child finished before it was killed: lengthen its run"
    );
}
