//! [`CachedAttention`]: attention of new tokens over the key-value cache,
//! all heads in one kernel, for incremental decoding (no backward pass).
//!
//! Through candle, one decoding step was per layer a batched matrix
//! product of `batch * heads` tiny products (`1 x head_width` by
//! `head_width x keys`, each a separate gemm call with its own thread
//! dispatch), a softmax, another `batch * heads` products and a transpose.
//! Here the new keys and values go from `qkv` into the cache in place
//! ([`CacheWrite`]), and each output row `(b, i)` computes, reading its
//! query straight from `qkv`, head after head, its scores
//! against the cached keys, their softmax and the mix of cached values,
//! written straight into the `[batch, time, heads * head_width]` layout
//! the output projection reads. Rows are independent, so the result does
//! not depend on the number of threads, nor on which other rows share the
//! call: input row `b` lives in the cache row and from the position its
//! [`RowPlace`] gives, so rows at different lengths decode together.

use candle_core::{CpuStorage, CustomOp3, InplaceOp1, InplaceOp2, Layout, Shape};

use super::exponential::exp;
use super::lanes;
use super::rows::{build_costly_rows, f32_values};
use crate::model::RowPlace;

/// `(qkv [batch, time, 3 * width], keys, values [rows, heads, context,
/// head_width]) -> [batch, time, width]`: the query of token `i` of input
/// row `b` (read from `qkv`) sits at position `places[b].start + i` of
/// cache row `places[b].row` and attends to that row's cached positions
/// `0..=places[b].start + i` (the new tokens' keys and values must already
/// be in the cache).
#[derive(Debug, Clone)]
pub struct CachedAttention {
    /// Multiplies every score (`1 / sqrt(head_width)`).
    pub scale: f32,
    /// Where each input row lives in the cache.
    pub places: Vec<RowPlace>,
}

impl CustomOp3 for CachedAttention {
    fn name(&self) -> &'static str {
        "cached-attention"
    }

    fn cpu_fwd(
        &self,
        queries_storage: &CpuStorage,
        queries_layout: &Layout,
        keys_storage: &CpuStorage,
        keys_layout: &Layout,
        values_storage: &CpuStorage,
        values_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let queries = f32_values(queries_storage, queries_layout, self.name())?;
        let keys = f32_values(keys_storage, keys_layout, self.name())?;
        let values = f32_values(values_storage, values_layout, self.name())?;
        let (batch, time, triple) = queries_layout.shape().dims3()?;
        let (cache_rows, heads, context, head_width) = keys_layout.shape().dims4()?;
        if self.places.len() != batch
            || triple != 3 * heads * head_width
            || values_layout.shape() != keys_layout.shape()
            || self
                .places
                .iter()
                .any(|place| place.row >= cache_rows || place.start + time > context)
        {
            candle_core::bail!("`{}`: queries and cache do not match", self.name());
        }
        let width = heads * head_width;
        let longest = self
            .places
            .iter()
            .map(|place| place.start)
            .max()
            .unwrap_or(0);
        let cost = heads * (longest + time) * head_width * 2;
        let output = build_costly_rows(batch * time * width, width, cost, |row, out| {
            let (b, i) = (row / time, row % time);
            let place = self.places[b];
            let visible = place.start + i + 1;
            let mut scores = vec![0f32; visible];
            for head in 0..heads {
                let query_start = (b * time + i) * triple + head * head_width;
                let query = &queries[query_start..query_start + head_width];
                let cache_start = (place.row * heads + head) * context * head_width;
                for (position, score) in scores.iter_mut().enumerate() {
                    let start = cache_start + position * head_width;
                    *score = lanes::dot(query, &keys[start..start + head_width]);
                }
                let maximum = lanes::maximum(&scores);
                for score in scores.iter_mut() {
                    *score = exp((*score - maximum) * self.scale);
                }
                let sum = lanes::sum(&scores);
                let reciprocal = 1.0 / sum;
                let mixed = &mut out[head * head_width..(head + 1) * head_width];
                for (position, &score) in scores.iter().enumerate() {
                    let weight = score * reciprocal;
                    let start = cache_start + position * head_width;
                    for (mixed, &value) in mixed.iter_mut().zip(&values[start..start + head_width])
                    {
                        *mixed += weight * value;
                    }
                }
            }
        });
        Ok((CpuStorage::F32(output), Shape::from((batch, time, width))))
    }
}

/// Writes the keys (`part` 1) or values (`part` 2) of `qkv` `[batch, new,
/// 3 * width]` into a cache tensor `[rows, heads, context, head_width]`,
/// input row `b` into cache row `places[b].row` at positions
/// `places[b].start..places[b].start + new`, in place.
#[derive(Debug, Clone)]
pub struct CacheWrite {
    /// 1 for keys, 2 for values.
    pub part: usize,
    /// Where each input row goes.
    pub places: Vec<RowPlace>,
}

impl InplaceOp2 for CacheWrite {
    fn name(&self) -> &'static str {
        "cache-write"
    }

    fn cpu_fwd(
        &self,
        cache_storage: &mut CpuStorage,
        cache_layout: &Layout,
        qkv_storage: &CpuStorage,
        qkv_layout: &Layout,
    ) -> candle_core::Result<()> {
        let qkv = f32_values(qkv_storage, qkv_layout, self.name())?;
        let (batch, new, triple) = qkv_layout.shape().dims3()?;
        let (cache_rows, heads, context, head_width) = cache_layout.shape().dims4()?;
        let width = heads * head_width;
        let Some((start, end)) = cache_layout.contiguous_offsets() else {
            candle_core::bail!("`{}` needs a contiguous cache", self.name());
        };
        let CpuStorage::F32(cache) = cache_storage else {
            candle_core::bail!("`{}` needs an `f32` cache", self.name());
        };
        if self.places.len() != batch
            || triple != 3 * width
            || self.part == 0
            || self.part > 2
            || self
                .places
                .iter()
                .any(|place| place.row >= cache_rows || place.start + new > context)
        {
            candle_core::bail!("`{}`: qkv and cache do not match", self.name());
        }
        let cache = &mut cache[start..end];
        for (b, place) in self.places.iter().enumerate() {
            for i in 0..new {
                let source = (b * new + i) * triple + self.part * width;
                for head in 0..heads {
                    let target =
                        ((place.row * heads + head) * context + place.start + i) * head_width;
                    let from = source + head * head_width;
                    cache[target..target + head_width]
                        .copy_from_slice(&qkv[from..from + head_width]);
                }
            }
        }
        Ok(())
    }
}

/// Copies the first `length` positions of cache row `from` into row `to`
/// of a cache tensor `[rows, heads, context, head_width]`, in place.
#[derive(Debug, Clone, Copy)]
pub struct CacheRowCopy {
    /// The row read.
    pub from: usize,
    /// The row written.
    pub to: usize,
    /// Positions copied.
    pub length: usize,
}

impl InplaceOp1 for CacheRowCopy {
    fn name(&self) -> &'static str {
        "cache-row-copy"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let (rows, heads, context, head_width) = layout.shape().dims4()?;
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("`{}` needs a contiguous cache", self.name());
        };
        let CpuStorage::F32(cache) = storage else {
            candle_core::bail!("`{}` needs an `f32` cache", self.name());
        };
        if self.from >= rows || self.to >= rows || self.length > context {
            candle_core::bail!("`{}`: rows or length out of range", self.name());
        }
        let cache = &mut cache[start..end];
        let span = self.length * head_width;
        for head in 0..heads {
            let source = (self.from * heads + head) * context * head_width;
            let target = (self.to * heads + head) * context * head_width;
            cache.copy_within(source..source + span, target);
        }
        Ok(())
    }
}
