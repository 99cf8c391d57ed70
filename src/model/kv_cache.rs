//! [`KvCache`]: the preallocated keys and values of incremental decoding,
//! one row per sequence, each row at its own length.

use candle_core::{DType, Device, Tensor};

use super::{ModelConfig, ModelError};

/// Where one input row of a decoding call lives in a [`KvCache`]: its row
/// of the cache, and the position of its first new token (the row's
/// length before the call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowPlace {
    /// The cache row.
    pub row: usize,
    /// The position of the row's first new token.
    pub start: usize,
}

/// The first position shared by every place, if they share one.
pub(crate) fn shared_start(places: &[RowPlace]) -> Option<usize> {
    let first = places.first()?.start;
    places
        .iter()
        .all(|place| place.start == first)
        .then_some(first)
}

/// Keys and values of every layer for a set of sequences, preallocated for
/// the model's full context so that a decoding step writes in place instead
/// of concatenating. Each row has its own length: a call may extend any
/// subset of rows, each from its own position (see [`super::Gpt::forward_rows`]).
///
/// Not `Clone`: a copy would share, and overwrite, the same storage.
#[derive(Debug)]
pub struct KvCache {
    /// Per layer, keys and values `[rows, heads, context, head_width]`.
    layers: Vec<(Tensor, Tensor)>,
    /// Tokens cached so far in each row.
    lengths: Vec<usize>,
    context: usize,
}

/// A cache and the places of one call's input rows in it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CachedRows<'a> {
    pub(crate) cache: &'a KvCache,
    pub(crate) places: &'a [RowPlace],
}

impl KvCache {
    /// An empty cache for `rows` sequences of a model shaped by `config`.
    pub fn new(config: &ModelConfig, rows: usize, device: &Device) -> Result<Self, ModelError> {
        let shape = (rows, config.heads, config.context, config.head_width());
        let layers = (0..config.layers)
            .map(|_| {
                Ok((
                    Tensor::zeros(shape, DType::F32, device)?,
                    Tensor::zeros(shape, DType::F32, device)?,
                ))
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        Ok(KvCache {
            layers,
            lengths: vec![0; rows],
            context: config.context,
        })
    }

    /// Rows of the cache.
    pub fn batch(&self) -> usize {
        self.lengths.len()
    }

    /// Tokens cached so far in each row (the position of its next token).
    pub fn lengths(&self) -> &[usize] {
        &self.lengths
    }

    /// Forgets every cached token (the storage is kept).
    pub fn reset(&mut self) {
        self.lengths.fill(0);
    }

    /// The places of `rows` (cache rows, one per input row) for
    /// `new_tokens` more tokens each; an error if a row is out of range or
    /// the tokens do not fit the context.
    pub(crate) fn places(
        &self,
        rows: &[usize],
        new_tokens: usize,
    ) -> Result<Vec<RowPlace>, ModelError> {
        rows.iter()
            .map(|&row| {
                let Some(&start) = self.lengths.get(row) else {
                    return Err(self.out_of_range(row));
                };
                if start + new_tokens > self.context {
                    return Err(ModelError::ContextExceeded {
                        length: start + new_tokens,
                        context: self.context,
                    });
                }
                Ok(RowPlace { row, start })
            })
            .collect()
    }

    /// Writes the new `keys` and `values` `[rows, heads, new, head_width]`
    /// of `layer` after the cached ones and returns all of them so far.
    /// Every row of the cache, in order, at one shared length (the
    /// composed and rotary paths; the caller checks).
    pub(crate) fn append(
        &self,
        layer: usize,
        keys: &Tensor,
        values: &Tensor,
        start: usize,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let Some((cached_keys, cached_values)) = self.layers.get(layer) else {
            candle_core::bail!("no cache for layer {layer}");
        };
        let new_tokens = keys.dim(2)?;
        cached_keys.slice_set(&keys.contiguous()?, 2, start)?;
        cached_values.slice_set(&values.contiguous()?, 2, start)?;
        let total = start + new_tokens;
        Ok((
            cached_keys.narrow(2, 0, total)?,
            cached_values.narrow(2, 0, total)?,
        ))
    }

    /// Writes the keys and values of `qkv` `[rows, new, 3 * width]` (the
    /// fused projection's output) into `layer` in place, input row `b` at
    /// `places[b]`, and returns the whole preallocated storage of `layer`
    /// (`[cache rows, heads, context, head_width]`, valid up to each row's
    /// new tokens), for kernels that read it in place.
    pub(crate) fn append_from_qkv(
        &self,
        layer: usize,
        qkv: &Tensor,
        places: &[RowPlace],
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let Some((cached_keys, cached_values)) = self.layers.get(layer) else {
            candle_core::bail!("no cache for layer {layer}");
        };
        super::kernels::write_cache(cached_keys, cached_values, qkv, places)?;
        Ok((cached_keys.clone(), cached_values.clone()))
    }

    fn out_of_range(&self, row: usize) -> ModelError {
        ModelError::CacheRowOutOfRange {
            rows: self.lengths.len(),
            row,
        }
    }

    /// Records that `new_tokens` tokens were appended to each of `rows`
    /// (a row listed twice, as padding, counts once).
    pub(crate) fn advance(&mut self, places: &[RowPlace], new_tokens: usize) {
        for place in places {
            if let Some(length) = self.lengths.get_mut(place.row) {
                *length = place.start + new_tokens;
            }
        }
    }

    /// Copies row `from`'s cached keys and values (every layer, up to its
    /// length) into row `to`, which then has the same length: several
    /// samples of one prompt share its prefill.
    pub fn copy_row(&mut self, from: usize, to: usize) -> Result<(), ModelError> {
        let Some(&length) = self.lengths.get(from) else {
            return Err(self.out_of_range(from));
        };
        if to >= self.lengths.len() {
            return Err(self.out_of_range(to));
        }
        if from != to {
            for (keys, values) in &self.layers {
                super::kernels::copy_cache_row(keys, from, to, length)?;
                super::kernels::copy_cache_row(values, from, to, length)?;
            }
        }
        self.lengths[to] = length;
        Ok(())
    }
}
