//! [`CachedAttention`]: attention of new tokens over the key-value cache,
//! all heads in one kernel, for incremental decoding (no backward pass).
//!
//! Through candle, one decoding step was per layer a batched matrix
//! product of `batch * heads` tiny products (`1 x head_width` by
//! `head_width x keys`, each a separate gemm call with its own thread
//! dispatch), a softmax, another `batch * heads` products and a transpose.
//! Here each output row `(b, i)` computes, head after head, its scores
//! against the cached keys, their softmax and the mix of cached values,
//! written straight into the `[batch, time, heads * head_width]` layout
//! the output projection reads. Rows are independent, so the result does
//! not depend on the number of threads.

use candle_core::{CpuStorage, CustomOp3, Layout, Shape};

use super::exponential::exp;
use super::rows::{f32_values, for_each_costly_row};

/// `(queries [batch, heads, time, head_width], keys, values [batch, heads,
/// context, head_width]) -> [batch, time, heads * head_width]`: query `i`
/// sits at position `offset + i` and attends to cached positions
/// `0..=offset + i` (the new tokens' keys and values must already be in
/// the cache).
#[derive(Debug, Clone, Copy)]
pub struct CachedAttention {
    /// Multiplies every score (`1 / sqrt(head_width)`).
    pub scale: f32,
    /// The position of the first query.
    pub offset: usize,
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
        let (batch, heads, time, head_width) = queries_layout.shape().dims4()?;
        let (key_batch, key_heads, context, key_width) = keys_layout.shape().dims4()?;
        if (key_batch, key_heads, key_width) != (batch, heads, head_width)
            || values_layout.shape() != keys_layout.shape()
            || self.offset + time > context
        {
            candle_core::bail!("`{}`: queries and cache do not match", self.name());
        }
        let width = heads * head_width;
        let mut output = vec![0f32; batch * time * width];
        let cost = heads * (self.offset + time) * head_width * 2;
        for_each_costly_row(&mut output, width, cost, |row, out| {
            let (b, i) = (row / time, row % time);
            let visible = self.offset + i + 1;
            let mut scores = vec![0f32; visible];
            for head in 0..heads {
                let query_start = ((b * heads + head) * time + i) * head_width;
                let query = &queries[query_start..query_start + head_width];
                let cache_start = (b * heads + head) * context * head_width;
                let mut maximum = f32::NEG_INFINITY;
                for (position, score) in scores.iter_mut().enumerate() {
                    let start = cache_start + position * head_width;
                    let key = &keys[start..start + head_width];
                    let mut dot = 0f32;
                    for (&q, &k) in query.iter().zip(key) {
                        dot += q * k;
                    }
                    *score = dot;
                    maximum = maximum.max(dot);
                }
                let mut sum = 0f32;
                for score in scores.iter_mut() {
                    *score = exp((*score - maximum) * self.scale);
                    sum += *score;
                }
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
