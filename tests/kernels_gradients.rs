//! The fused kernels of `echolab::model::kernels`: values and gradients
//! agree with the composition of candle operations they replace, and their
//! hand-written gradients agree with central finite differences.
//!
//! Tolerances: values and gradients against candle's composition within
//! `2e-5` absolute plus `2e-5` relative: both are float32 with rows of at
//! most 64 terms, summed in different orders, with a polynomial `exp` on
//! the fused side (a few units in the last place), so differences are of
//! the order of 1e-6. Finite differences use step `1e-2` on float32: the
//! truncation error is `O(h²)` times the third derivative (below 1e-4 for
//! these smooth functions at inputs of order one) and the rounding error
//! about `1e-7 * |loss| / h` (below 1e-4 here), hence `2e-3` absolute plus
//! `2e-2` relative.

use candle_core::{DType, Device, Tensor, Var, D};
use echolab::model::kernels::{self, PointwiseKind};
use echolab::model::{NormKind, RowPlace};
use echolab::random::Stream;

/// Uniform values in `[-scale, scale)` of the given shape.
fn uniform(seed: u64, shape: &[usize], scale: f64) -> Tensor {
    let mut stream = Stream::new(seed);
    let count = shape.iter().product::<usize>();
    let values: Vec<f32> = (0..count)
        .map(|_| (scale * (2.0 * stream.next_f64() - 1.0)) as f32)
        .collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

fn values(tensor: &Tensor) -> Vec<f32> {
    tensor.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn assert_close(what: &str, found: &[f32], expected: &[f32], absolute: f32, relative: f32) {
    assert_eq!(found.len(), expected.len(), "{what}: lengths differ");
    for (index, (&found, &expected)) in found.iter().zip(expected).enumerate() {
        let allowed = absolute + relative * expected.abs();
        assert!(
            (found - expected).abs() <= allowed,
            "{what}[{index}]: {found} vs {expected} (allowed {allowed})"
        );
    }
}

/// A function of some float tensors, returning one tensor.
type Function = dyn Fn(&[Tensor]) -> candle_core::Result<Tensor>;

/// `sum(f(inputs) * weights)` with fixed random weights: a scalar loss
/// whose gradient exercises every output.
fn weighted_loss(function: &Function, inputs: &[Tensor], seed: u64) -> Tensor {
    let output = function(inputs).unwrap();
    let weights = uniform(seed, output.dims(), 1.0);
    (output * weights).unwrap().sum_all().unwrap()
}

/// Loss value and the gradient of every input.
fn gradients(function: &Function, inputs: &[Tensor], seed: u64) -> (f32, Vec<Vec<f32>>) {
    let variables: Vec<Var> = inputs
        .iter()
        .map(|input| Var::from_tensor(input).unwrap())
        .collect();
    let tensors: Vec<Tensor> = variables.iter().map(|v| v.as_tensor().clone()).collect();
    let loss = weighted_loss(function, &tensors, seed);
    let store = loss.backward().unwrap();
    let gradients = tensors
        .iter()
        .map(|tensor| values(store.get(tensor).expect("a gradient for every input")))
        .collect();
    (loss.to_scalar::<f32>().unwrap(), gradients)
}

/// Checks `fused` against `composed` (values and gradients) and against
/// central finite differences at up to 24 entries of every input.
fn check(name: &str, fused: &Function, composed: &Function, inputs: &[Tensor]) {
    let seed = 99;
    assert_close(
        &format!("{name} values"),
        &values(&fused(inputs).unwrap()),
        &values(&composed(inputs).unwrap()),
        2e-5,
        2e-5,
    );
    let (_, fused_gradients) = gradients(fused, inputs, seed);
    let (_, composed_gradients) = gradients(composed, inputs, seed);
    for (index, (found, expected)) in fused_gradients.iter().zip(&composed_gradients).enumerate() {
        assert_close(
            &format!("{name} gradient of input {index} vs candle"),
            found,
            expected,
            2e-5,
            2e-5,
        );
    }
    let step = 1e-2f32;
    for (input_index, input) in inputs.iter().enumerate() {
        let base = values(input);
        let stride = (base.len() / 24).max(1);
        for entry in (0..base.len()).step_by(stride) {
            let shifted = |delta: f32| {
                let mut perturbed = base.clone();
                perturbed[entry] += delta;
                let mut moved = inputs.to_vec();
                moved[input_index] =
                    Tensor::from_vec(perturbed, input.dims(), &Device::Cpu).unwrap();
                weighted_loss(fused, &moved, seed)
                    .to_scalar::<f32>()
                    .unwrap()
            };
            let numeric = (shifted(step) - shifted(-step)) / (2.0 * step);
            let analytic = fused_gradients[input_index][entry];
            assert!(
                (numeric - analytic).abs() <= 2e-3 + 2e-2 * analytic.abs(),
                "{name}: input {input_index}[{entry}]: finite difference {numeric}, kernel {analytic}"
            );
        }
    }
}

#[test]
fn gelu_matches_candle_and_finite_differences() {
    check(
        "gelu",
        &|x| kernels::activation(&x[0], PointwiseKind::Gelu),
        &|x| x[0].gelu(),
        &[uniform(1, &[6, 40], 4.0)],
    );
}

#[test]
fn exponential_matches_candle_and_finite_differences() {
    // The RL losses' ratio `exp(log p - log p_old)` and the k3 KL estimate.
    check(
        "exponential",
        &|x| kernels::exponential(&x[0]),
        &|x| x[0].exp(),
        &[uniform(8, &[5, 24], 2.0)],
    );
}

#[test]
fn relu_matches_candle_and_finite_differences() {
    // Values at least 0.05 away from the kink, where finite differences hold.
    let input = uniform(2, &[5, 30], 3.0);
    let input = (input.sign().unwrap() * 0.05).unwrap().add(&input).unwrap();
    check(
        "relu",
        &|x| kernels::activation(&x[0], PointwiseKind::Relu),
        &|x| x[0].relu(),
        &[input],
    );
}

#[test]
fn swiglu_matches_candle_and_finite_differences() {
    check(
        "swiglu",
        &|x| kernels::swiglu(&x[0], &x[1]),
        &|x| x[0].silu()? * &x[1],
        &[uniform(3, &[4, 32], 4.0), uniform(4, &[4, 32], 2.0)],
    );
}

/// The model's composed norm: mean and variance from tensor operations.
fn composed_norm(kind: NormKind, x: &[Tensor]) -> candle_core::Result<Tensor> {
    let input = &x[0];
    let normalized = match kind {
        NormKind::LayerNorm => {
            let centred = input.broadcast_sub(&input.mean_keepdim(D::Minus1)?)?;
            let variance = centred.sqr()?.mean_keepdim(D::Minus1)?;
            centred.broadcast_div(&(variance + 1e-5)?.sqrt()?)?
        }
        NormKind::RmsNorm => {
            let mean_square = input.sqr()?.mean_keepdim(D::Minus1)?;
            input.broadcast_div(&(mean_square + 1e-5)?.sqrt()?)?
        }
    };
    let scaled = normalized.broadcast_mul(&x[1])?;
    match x.get(2) {
        Some(bias) => scaled.broadcast_add(bias),
        None => Ok(scaled),
    }
}

#[test]
fn layer_norm_and_rms_norm_match_candle_and_finite_differences() {
    for kind in [NormKind::LayerNorm, NormKind::RmsNorm] {
        let input = uniform(5, &[3, 4, 24], 2.0);
        let gain = (uniform(6, &[24], 0.5) + 1.0).unwrap();
        let bias = uniform(7, &[24], 0.5);
        check(
            &format!("{kind:?} with bias"),
            &move |x| kernels::norm(&x[0], &x[1], Some(&x[2]), kind, 1e-5),
            &move |x| composed_norm(kind, x),
            &[input.clone(), gain.clone(), bias],
        );
        check(
            &format!("{kind:?} without bias"),
            &move |x| kernels::norm(&x[0], &x[1], None, kind, 1e-5),
            &move |x| composed_norm(kind, x),
            &[input, gain],
        );
    }
}

#[test]
fn causal_softmax_matches_candle_and_finite_differences_with_and_without_an_offset() {
    let scale = 0.35f32;
    for (time, keys) in [(7, 7), (3, 10), (1, 6)] {
        let offset = keys - time;
        let mask: Vec<f32> = (0..time * keys)
            .map(|index| {
                if index % keys > offset + index / keys {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, (time, keys), &Device::Cpu).unwrap();
        check(
            &format!("causal softmax {time}x{keys}"),
            &move |x| kernels::causal_softmax(&x[0], scale, offset),
            &move |x| {
                let scores = (&x[0] * f64::from(scale))?.broadcast_add(&mask)?;
                candle_nn::ops::softmax(&scores, D::Minus1)
            },
            &[uniform(8, &[2, 3, time, keys], 3.0)],
        );
    }
}

#[test]
fn token_log_probabilities_match_candle_and_finite_differences() {
    let targets: Vec<u32> = (0..9u32).map(|index| (index * 7) % 17).collect();
    let targets = Tensor::from_vec(targets, 9, &Device::Cpu).unwrap();
    let composed_targets = targets.clone();
    check(
        "token log-probability",
        &move |x| kernels::token_log_probabilities(&x[0], &targets),
        &move |x| {
            candle_nn::ops::log_softmax(&x[0], D::Minus1)?
                .gather(&composed_targets.unsqueeze(1)?, 1)?
                .squeeze(1)
        },
        &[uniform(9, &[9, 17], 5.0)],
    );
}

#[test]
fn bias_add_matches_candle_and_finite_differences() {
    check(
        "bias add",
        &|x| kernels::bias_add(&x[0], &x[1]),
        &|x| x[0].broadcast_add(&x[1]),
        &[uniform(10, &[37, 12], 1.0), uniform(11, &[12], 1.0)],
    );
}

#[test]
fn kernels_refuse_bad_operands_with_an_error() {
    let logits = uniform(12, &[2, 5], 1.0);
    let out_of_range = Tensor::from_vec(vec![1u32, 5], 2, &Device::Cpu).unwrap();
    assert!(kernels::token_log_probabilities(&logits, &out_of_range).is_err());
    let wrong_type = Tensor::zeros(2, DType::F32, &Device::Cpu).unwrap();
    assert!(kernels::token_log_probabilities(&logits, &wrong_type).is_err());
    let gain = uniform(13, &[4], 1.0);
    assert!(kernels::norm(&logits, &gain, None, NormKind::LayerNorm, 1e-5).is_err());
    assert!(kernels::causal_softmax(&uniform(14, &[3, 2], 1.0), 1.0, 0).is_err());
}

/// Attention composed from candle operations, as the model's composed path.
fn composed_attention(qkv: &Tensor, heads: usize, scale: f32) -> candle_core::Result<Tensor> {
    let (batch, time, triple) = qkv.dims3()?;
    let width = triple / 3;
    let split = qkv.reshape((batch, time, 3, heads, width / heads))?;
    let part = |index: usize| -> candle_core::Result<Tensor> {
        split
            .narrow(2, index, 1)?
            .squeeze(2)?
            .transpose(1, 2)?
            .contiguous()
    };
    let (queries, keys, values) = (part(0)?, part(1)?, part(2)?);
    let mask: Vec<f32> = (0..time * time)
        .map(|index| {
            if index % time > index / time {
                f32::NEG_INFINITY
            } else {
                0.0
            }
        })
        .collect();
    let mask = Tensor::from_vec(mask, (time, time), &Device::Cpu)?;
    let scores = (queries.matmul(&keys.t()?)? * f64::from(scale))?.broadcast_add(&mask)?;
    candle_nn::ops::softmax(&scores, D::Minus1)?
        .matmul(&values)?
        .transpose(1, 2)?
        .reshape((batch, time, width))
}

#[test]
fn causal_attention_matches_candle_and_finite_differences() {
    let (heads, scale) = (3, 0.4f32);
    check(
        "causal attention",
        &move |x| kernels::causal_attention(&x[0], heads, scale),
        &move |x| composed_attention(&x[0], heads, scale),
        &[uniform(15, &[2, 9, 3 * 12], 1.5)],
    );
}

#[test]
fn cached_attention_matches_attention_over_the_whole_sequence() {
    let (batch, heads, time, head_width, context) = (2, 2, 7, 4, 10);
    let width = heads * head_width;
    let qkv = uniform(16, &[batch, time, 3 * width], 1.5);
    let full = composed_attention(&qkv, heads, 0.5).unwrap();
    let keys = Tensor::zeros(
        (batch, heads, context, head_width),
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    let cached_values = keys.zeros_like().unwrap();
    // The first four tokens as a prompt, then the last three at offset 4.
    let prompt = qkv.narrow(1, 0, 4).unwrap();
    let at =
        |start: usize| -> Vec<RowPlace> { (0..batch).map(|row| RowPlace { row, start }).collect() };
    kernels::write_cache(&keys, &cached_values, &prompt, &at(0)).unwrap();
    let newest = qkv.narrow(1, 4, 3).unwrap().contiguous().unwrap();
    kernels::write_cache(&keys, &cached_values, &newest, &at(4)).unwrap();
    let cached = kernels::cached_attention(&newest, &keys, &cached_values, 0.5, &at(4)).unwrap();
    assert_close(
        "cached attention",
        &values(&cached),
        &values(&full.narrow(1, 4, 3).unwrap()),
        2e-6,
        2e-5,
    );
    // The cache holds the keys head by head, untouched after position 7.
    let head_keys = qkv
        .reshape((batch, time, 3, heads, head_width))
        .unwrap()
        .narrow(2, 1, 1)
        .unwrap()
        .squeeze(2)
        .unwrap()
        .transpose(1, 2)
        .unwrap();
    assert_eq!(
        values(&keys.narrow(2, 0, time).unwrap()),
        values(&head_keys)
    );
    assert!(values(&keys.narrow(2, time, context - time).unwrap())
        .iter()
        .all(|&value| value == 0.0));
}

#[test]
fn cached_attention_takes_rows_from_their_own_cache_rows_and_positions() {
    // Two sequences decoded apart (each alone in its cache) and together,
    // swapped and at different lengths (4 and 6 tokens cached), must give
    // the same bits; a copied row attends as its original.
    let (heads, head_width, context) = (2, 4, 10);
    let width = heads * head_width;
    let cache = |rows: usize| {
        Tensor::zeros((rows, heads, context, head_width), DType::F32, &Device::Cpu).unwrap()
    };
    let sequences = [
        uniform(40, &[1, 5, 3 * width], 1.5),
        uniform(41, &[1, 7, 3 * width], 1.5),
    ];
    let alone: Vec<Vec<f32>> = sequences
        .iter()
        .map(|sequence| {
            let (keys, cached_values) = (cache(1), cache(1));
            let time = sequence.dim(1).unwrap();
            let place = |start| vec![RowPlace { row: 0, start }];
            let prompt = sequence
                .narrow(1, 0, time - 1)
                .unwrap()
                .contiguous()
                .unwrap();
            kernels::write_cache(&keys, &cached_values, &prompt, &place(0)).unwrap();
            let last = sequence
                .narrow(1, time - 1, 1)
                .unwrap()
                .contiguous()
                .unwrap();
            kernels::write_cache(&keys, &cached_values, &last, &place(time - 1)).unwrap();
            values(
                &kernels::cached_attention(&last, &keys, &cached_values, 0.5, &place(time - 1))
                    .unwrap(),
            )
        })
        .collect();
    // Together: sequence 0 in cache row 2, sequence 1 in cache row 0; row 1
    // becomes a copy of row 2.
    let (keys, cached_values) = (cache(3), cache(3));
    for (sequence, row) in sequences.iter().zip([2, 0]) {
        let time = sequence.dim(1).unwrap();
        let prompt = sequence
            .narrow(1, 0, time - 1)
            .unwrap()
            .contiguous()
            .unwrap();
        let place = [RowPlace { row, start: 0 }];
        kernels::write_cache(&keys, &cached_values, &prompt, &place).unwrap();
    }
    kernels::copy_cache_row(&keys, 2, 1, 4).unwrap();
    kernels::copy_cache_row(&cached_values, 2, 1, 4).unwrap();
    let last = |index: usize| {
        let time = sequences[index].dim(1).unwrap();
        sequences[index].narrow(1, time - 1, 1).unwrap()
    };
    let newest = Tensor::cat(&[last(1), last(0), last(0)], 0).unwrap();
    let places = [
        RowPlace { row: 0, start: 6 },
        RowPlace { row: 2, start: 4 },
        RowPlace { row: 1, start: 4 },
    ];
    kernels::write_cache(&keys, &cached_values, &newest, &places).unwrap();
    let together =
        values(&kernels::cached_attention(&newest, &keys, &cached_values, 0.5, &places).unwrap());
    assert_eq!(together[..width], alone[1][..]);
    assert_eq!(together[width..2 * width], alone[0][..]);
    assert_eq!(together[2 * width..], alone[0][..]);
}

#[test]
fn linear_matches_candle_and_finite_differences_with_and_without_bias() {
    check(
        "linear with bias",
        &|x| kernels::linear(&x[0], &x[1], Some(&x[2])),
        &|x| x[0].matmul(&x[1].t()?)?.broadcast_add(&x[2]),
        &[
            uniform(17, &[13, 10], 1.0),
            uniform(18, &[7, 10], 1.0),
            uniform(19, &[7], 1.0),
        ],
    );
    check(
        "linear without bias",
        &|x| kernels::linear(&x[0], &x[1], None),
        &|x| x[0].matmul(&x[1].t()?),
        &[uniform(20, &[5, 9], 1.0), uniform(21, &[4, 9], 1.0)],
    );
}
