//! The model on its fused kernels: loss and gradients agree with the model
//! composed from candle operations in every combination of activation,
//! norm, positions and tying; and loss, gradients and decoded logits are
//! identical bit for bit across runs and across `RAYON_NUM_THREADS=1` and
//! `2` (child processes, since the thread count is fixed per process).

use std::process::Command;

use candle_core::{Device, Tensor};
use echolab::model::kernels::KernelPath;
use echolab::model::{Activation, Gpt, ModelConfig, NormKind, Positions};
use echolab::random::Stream;

const VOCABULARY: usize = 29;
/// Tells a child process to print its digest.
const CHILD: &str = "ECHOLAB_MODEL_FUSED_CHILD";

fn config(activation: Activation, norm: NormKind, positions: Positions, tied: bool) -> ModelConfig {
    ModelConfig {
        layers: 2,
        width: 32,
        heads: 4,
        context: 24,
        mlp_ratio: 4,
        activation,
        norm,
        positions,
        tied_embeddings: tied,
        bias: true,
    }
}

fn random_tokens(seed: u64, batch: usize, time: usize) -> Tensor {
    let mut stream = Stream::new(seed);
    let tokens: Vec<u32> = (0..batch * time)
        .map(|_| stream.below(VOCABULARY as u64) as u32)
        .collect();
    Tensor::from_vec(tokens, (batch, time), &Device::Cpu).unwrap()
}

/// The loss and every gradient (in the parameters' sorted order).
fn loss_and_gradients(
    model: &Gpt,
    parameters: &echolab::model::Parameters,
    sequences: &Tensor,
) -> (f32, Vec<(String, Vec<f32>)>) {
    let loss = model.next_token_loss(sequences).unwrap();
    let store = loss.backward().unwrap();
    let gradients = parameters
        .named()
        .unwrap()
        .into_iter()
        .map(|(name, variable)| {
            let gradient = store.get(variable.as_tensor()).unwrap();
            (
                name,
                gradient.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            )
        })
        .collect();
    (loss.to_scalar::<f32>().unwrap(), gradients)
}

#[test]
fn fused_and_composed_models_agree_on_loss_and_every_gradient() {
    for activation in [Activation::Gelu, Activation::Swiglu, Activation::Relu] {
        for norm in [NormKind::LayerNorm, NormKind::RmsNorm] {
            for positions in [Positions::Learned, Positions::Rope] {
                for tied in [true, false] {
                    let config = config(activation, norm, positions, tied);
                    let (model, parameters) =
                        Gpt::initialize(&config, VOCABULARY, &Stream::new(1), &Device::Cpu)
                            .unwrap();
                    assert_eq!(model.kernel_path(), KernelPath::Fused);
                    let composed = model.clone().with_kernel_path(KernelPath::Composed);
                    let sequences = random_tokens(2, 3, config.context + 1);
                    let (fused_loss, fused) = loss_and_gradients(&model, &parameters, &sequences);
                    let (composed_loss, reference) =
                        loss_and_gradients(&composed, &parameters, &sequences);
                    assert!(
                        (fused_loss - composed_loss).abs() <= 1e-5 * composed_loss.abs(),
                        "{config:?}: loss {fused_loss} vs {composed_loss}"
                    );
                    for ((name, found), (_, expected)) in fused.iter().zip(&reference) {
                        // Gradients of weights are sums over 72 tokens of
                        // float32 products: allow 1e-6 absolute plus 1e-3 of
                        // the largest entry of the tensor.
                        let largest = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
                        for (index, (f, e)) in found.iter().zip(expected).enumerate() {
                            assert!(
                                (f - e).abs() <= 1e-6 + 1e-3 * largest,
                                "{config:?}: `{name}`[{index}] {f} vs {e}"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Loss, gradients and greedy-decoding logits of a model big enough that
/// every kernel and matrix product splits its rows between two threads,
/// hashed together.
fn digest_of_a_step_and_a_decode() -> String {
    let config = ModelConfig {
        layers: 2,
        width: 64,
        heads: 4,
        context: 64,
        mlp_ratio: 4,
        activation: Activation::Gelu,
        norm: NormKind::LayerNorm,
        positions: Positions::Learned,
        tied_embeddings: true,
        bias: true,
    };
    let (model, parameters) =
        Gpt::initialize(&config, VOCABULARY, &Stream::new(5), &Device::Cpu).unwrap();
    let mut hasher = blake3::Hasher::new();
    let (loss, gradients) = loss_and_gradients(&model, &parameters, &random_tokens(6, 8, 65));
    hasher.update(&loss.to_le_bytes());
    for (name, values) in gradients {
        hasher.update(name.as_bytes());
        for value in values {
            hasher.update(&value.to_le_bytes());
        }
    }
    let batch = 16;
    let mut cache = model.new_cache(batch).unwrap();
    let mut tokens = random_tokens(7, batch, 8);
    for _ in 0..20 {
        let logits = model.forward_step(&tokens, &mut cache).unwrap();
        let last = logits.narrow(1, logits.dim(1).unwrap() - 1, 1).unwrap();
        for value in last.flatten_all().unwrap().to_vec1::<f32>().unwrap() {
            hasher.update(&value.to_le_bytes());
        }
        tokens = last.argmax(2).unwrap();
    }
    hasher.finalize().to_hex().to_string()
}

#[test]
#[ignore = "entry point of the child processes of the thread-count test"]
fn child_digest() {
    if std::env::var_os(CHILD).is_some() {
        println!("digest={}", digest_of_a_step_and_a_decode());
    }
}

fn digest_in_child(threads: &str) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_digest",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "child with {threads} threads failed"
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout
        .lines()
        .find_map(|line| line.split("digest=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no digest in {stdout}"))
        .to_string()
}

#[test]
fn loss_gradients_and_decoding_are_identical_across_runs_and_thread_counts() {
    let one = digest_in_child("1");
    let two = digest_in_child("2");
    let again = digest_in_child("2");
    assert_eq!(one, two, "1 and 2 threads differ");
    assert_eq!(two, again, "two runs with 2 threads differ");
    assert_eq!(
        digest_of_a_step_and_a_decode(),
        two,
        "in-process run differs"
    );
}
