//! [`TokenLogProbability`]: the log-probability of one target token per
//! row of logits (log-softmax and gather fused), and its backward pass
//! `upstream * (one_hot(target) - softmax(logits))` in one pass per row.
//!
//! Composed from candle operations, `log_softmax` then `gather` kept the
//! whole `[rows, vocab]` log-softmax (and its intermediate tensors) alive
//! for the backward pass; here nothing of that size is stored.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::exponential::exp;
use super::lanes;
use super::rows::{build_rows, f32_values, u32_values};

/// `(logits [rows, vocab], targets [rows] u32) -> [rows]`: entry `r` is
/// `log softmax(logits[r])[targets[r]]`.
#[derive(Debug, Clone, Copy)]
pub struct TokenLogProbability;

/// `(logits, targets, upstream [rows]) -> [rows, vocab]`.
#[derive(Debug, Clone, Copy)]
struct TokenLogProbabilityBackward;

/// The maximum and the sum of `exp(logit - maximum)` of one row, the sum
/// in the lane order of [`lanes`].
fn normaliser(row: &[f32]) -> (f32, f32) {
    let maximum = lanes::maximum(row);
    (maximum, lanes::sum_of(row, |logit| exp(logit - maximum)))
}

/// The logits as `(values, rows, vocab)` and the targets, checked.
fn operands<'a>(
    name: &str,
    logits_storage: &'a CpuStorage,
    logits_layout: &Layout,
    targets_storage: &'a CpuStorage,
    targets_layout: &Layout,
) -> candle_core::Result<(&'a [f32], usize, &'a [u32])> {
    let logits = f32_values(logits_storage, logits_layout, name)?;
    let targets = u32_values(targets_storage, targets_layout, name)?;
    let (rows, vocab) = logits_layout.shape().dims2()?;
    if targets.len() != rows {
        candle_core::bail!(
            "`{name}`: {rows} rows of logits but {} targets",
            targets.len()
        );
    }
    if let Some(&target) = targets.iter().find(|&&target| target as usize >= vocab) {
        candle_core::bail!("`{name}`: target {target} outside a vocabulary of {vocab}");
    }
    Ok((logits, vocab, targets))
}

impl CustomOp2 for TokenLogProbability {
    fn name(&self) -> &'static str {
        "token-log-probability"
    }

    fn cpu_fwd(
        &self,
        logits_storage: &CpuStorage,
        logits_layout: &Layout,
        targets_storage: &CpuStorage,
        targets_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (logits, vocab, targets) = operands(
            self.name(),
            logits_storage,
            logits_layout,
            targets_storage,
            targets_layout,
        )?;
        let output: Vec<f32> = logits
            .par_chunks(vocab)
            .zip(targets.par_iter())
            .map(|(row, &target)| {
                let (maximum, sum) = normaliser(row);
                row[target as usize] - maximum - libm::logf(sum)
            })
            .collect();
        Ok((CpuStorage::F32(output), Shape::from(targets.len())))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        _output: &Tensor,
        upstream: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let gradient = logits.contiguous()?.apply_op3_no_bwd(
            &targets.contiguous()?,
            &upstream.contiguous()?,
            &TokenLogProbabilityBackward,
        )?;
        Ok((Some(gradient), None))
    }
}

impl CustomOp3 for TokenLogProbabilityBackward {
    fn name(&self) -> &'static str {
        "token-log-probability-backward"
    }

    fn cpu_fwd(
        &self,
        logits_storage: &CpuStorage,
        logits_layout: &Layout,
        targets_storage: &CpuStorage,
        targets_layout: &Layout,
        upstream_storage: &CpuStorage,
        upstream_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (logits, vocab, targets) = operands(
            self.name(),
            logits_storage,
            logits_layout,
            targets_storage,
            targets_layout,
        )?;
        let upstream = f32_values(upstream_storage, upstream_layout, self.name())?;
        if upstream.len() != targets.len() {
            candle_core::bail!("`{}`: gradient and target counts differ", self.name());
        }
        let output = build_rows(logits.len(), vocab, |row, out| {
            let logits = &logits[row * vocab..(row + 1) * vocab];
            let (maximum, sum) = normaliser(logits);
            let scale = -upstream[row] / sum;
            for (out, &logit) in out.iter_mut().zip(logits) {
                *out = scale * exp(logit - maximum);
            }
            out[targets[row] as usize] += upstream[row];
        });
        Ok((CpuStorage::F32(output), logits_layout.shape().clone()))
    }
}
