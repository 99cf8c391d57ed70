//! The ceiling of training speed set by matrix products alone: the time
//! one training step's matrix products take when nothing else runs (no
//! activation, norm, softmax, loss, optimizer or autograd bookkeeping),
//! each product timed on its own with the same `gemm` echolab trains with.
//!
//! A step can be no faster than this, however its other work is fused or
//! removed, so `tokens / ceiling` bounds the tokens/s of any
//! implementation that multiplies matrices at this machine's rate.
//!
//! The products of one step on `tokens = batch * length` positions, with
//! `width` d, hidden width h, `u` up projections, `heads` H of size `d/H`
//! and vocabulary V:
//! - each linear map `x W` of an `i -> o` layer (`qkv` d -> 3d, output
//!   projection d -> d, up projections d -> u h, down projection h -> d,
//!   the tied output layer d -> V): forward `[tokens, i] x [i, o]`,
//!   backward `[tokens, o] x [o, i]` (input gradient) and
//!   `[i, tokens] x [tokens, o]` (weight gradient);
//! - attention, per sequence and head: forward `Q Kᵀ` and `P V`,
//!   backward `dO Vᵀ`, `Pᵀ dO`, `dS K` and `dSᵀ Q`.

use std::time::Duration;

use candle_core::{Device, Tensor};

use super::best_of;
use crate::model::ModelConfig;
use crate::random::Stream;

/// One matrix product `[rows, inner] x [inner, columns]`, repeated `count`
/// times per step (batched products are timed as one call over `count`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Product {
    rows: usize,
    inner: usize,
    columns: usize,
    count: usize,
}

impl Product {
    /// `2 m n k` times the count.
    fn flops(&self) -> f64 {
        2.0 * (self.rows * self.inner * self.columns * self.count) as f64
    }
}

/// Every matrix product of one training step of `config` on `batch`
/// sequences of `length` tokens with a `vocabulary`-token output layer.
fn step_products(
    config: &ModelConfig,
    batch: usize,
    length: usize,
    vocabulary: usize,
) -> Vec<Product> {
    let tokens = batch * length;
    let width = config.width;
    let hidden = config.hidden_width();
    let head = width / config.heads.max(1);
    let linear_maps = [
        (width, 3 * width),
        (width, width),
        (width, config.activation.up_projections() * hidden),
        (hidden, width),
    ];
    let mut products = Vec::new();
    let mut linear = |input: usize, output: usize, count: usize| {
        products.push(Product {
            rows: tokens,
            inner: input,
            columns: output,
            count,
        });
        products.push(Product {
            rows: tokens,
            inner: output,
            columns: input,
            count,
        });
        products.push(Product {
            rows: input,
            inner: tokens,
            columns: output,
            count,
        });
    };
    for (input, output) in linear_maps {
        linear(input, output, config.layers);
    }
    linear(width, vocabulary, 1);
    let attention = batch * config.heads * config.layers;
    for (rows, inner, columns) in [
        (length, head, length), // Q Kᵀ
        (length, length, head), // P V
        (length, head, length), // dO Vᵀ
        (length, length, head), // Pᵀ dO
        (length, length, head), // dS K
        (length, length, head), // dSᵀ Q
    ] {
        products.push(Product {
            rows,
            inner,
            columns,
            count: attention,
        });
    }
    products
}

/// Floating-point operations (`2 m n k` per product) of one training step
/// per token.
pub fn flops_per_token(
    config: &ModelConfig,
    batch: usize,
    length: usize,
    vocabulary: usize,
) -> f64 {
    let total: f64 = step_products(config, batch, length, vocabulary)
        .iter()
        .map(Product::flops)
        .sum();
    total / (batch * length) as f64
}

/// The time of every matrix product of one training step, each timed
/// alone (best of three) with candle's `matmul`, summed.
pub fn step_time(
    config: &ModelConfig,
    batch: usize,
    length: usize,
    vocabulary: usize,
) -> anyhow::Result<Duration> {
    let device = Device::Cpu;
    let mut stream = Stream::labelled(0, "bench/matmul-ceiling");
    let mut total = Duration::ZERO;
    let mut merged: Vec<Product> = Vec::new();
    for product in step_products(config, batch, length, vocabulary) {
        match merged.iter_mut().find(|seen| {
            (seen.rows, seen.inner, seen.columns) == (product.rows, product.inner, product.columns)
        }) {
            Some(seen) => seen.count += product.count,
            None => merged.push(product),
        }
    }
    for product in merged {
        let mut random = |shape: (usize, usize, usize)| {
            let values: Vec<f32> = (0..shape.0 * shape.1 * shape.2)
                .map(|_| stream.next_f32() - 0.5)
                .collect();
            Tensor::from_vec(values, shape, &device)
        };
        // Large single products run once per count; small ones (attention)
        // as one batched call, as echolab's kernels issue them back to back.
        let batched = product.rows * product.columns < 64 * 1024;
        let calls = if batched { 1 } else { product.count };
        let per_call = if batched { product.count } else { 1 };
        let left = random((per_call, product.rows, product.inner))?;
        let right = random((per_call, product.inner, product.columns))?;
        total += product_time(&left, &right)? * calls as u32;
    }
    Ok(total)
}

/// The time of `left.matmul(right)`, after one untimed call, best of three.
pub fn product_time(left: &Tensor, right: &Tensor) -> anyhow::Result<Duration> {
    left.matmul(right)?;
    let mut failure = None;
    let time = best_of(3, || {
        if let Err(error) = left.matmul(right) {
            failure = Some(error);
        }
    });
    match failure {
        Some(error) => Err(error.into()),
        None => Ok(time),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_products_of_a_step_count_six_flops_per_weight_and_token() {
        let config = ModelConfig::preset("small").unwrap_or_else(|| panic!("no small preset"));
        let (batch, length, vocabulary) = (2, 8, 10);
        let products = step_products(&config, batch, length, vocabulary);
        let attention: f64 = products[products.len() - 6..]
            .iter()
            .map(Product::flops)
            .sum();
        let linear: f64 = products[..products.len() - 6]
            .iter()
            .map(Product::flops)
            .sum();
        let tokens = (batch * length) as f64;
        let width = config.width as f64;
        let hidden = config.hidden_width() as f64;
        let up = config.activation.up_projections() as f64;
        let weights = config.layers as f64 * (4.0 * width * width + (up + 1.0) * width * hidden)
            + vocabulary as f64 * width;
        assert_eq!(linear, 6.0 * weights * tokens);
        // Forward 2 products, backward 4, each 2 t² (d/H) per head.
        let expected_attention =
            6.0 * 2.0 * (length * length) as f64 * width * (batch * config.layers) as f64;
        assert_eq!(attention, expected_attention);
    }
}
