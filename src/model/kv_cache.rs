//! [`KvCache`]: the preallocated keys and values of incremental decoding.

use candle_core::{DType, Device, Tensor};

use super::{ModelConfig, ModelError};

/// Keys and values of every layer for a batch of sequences that all sit at
/// the same position, preallocated for the model's full context so that a
/// decoding step writes in place instead of concatenating.
///
/// Every row of the batch has the same length (for example several samples
/// of one prompt). Not `Clone`: a copy would share, and overwrite, the same
/// storage.
#[derive(Debug)]
pub struct KvCache {
    /// Per layer, keys and values `[batch, heads, context, head_width]`.
    layers: Vec<(Tensor, Tensor)>,
    batch: usize,
    length: usize,
    context: usize,
}

impl KvCache {
    /// An empty cache for `batch` sequences of a model shaped by `config`.
    pub fn new(config: &ModelConfig, batch: usize, device: &Device) -> Result<Self, ModelError> {
        let shape = (batch, config.heads, config.context, config.head_width());
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
            batch,
            length: 0,
            context: config.context,
        })
    }

    /// Rows of the batch.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Tokens cached so far (the position of the next token).
    pub fn length(&self) -> usize {
        self.length
    }

    /// Forgets every cached token (the storage is kept).
    pub fn reset(&mut self) {
        self.length = 0;
    }

    /// Checks that `new_tokens` more tokens of `batch` rows fit.
    pub(crate) fn check(&self, batch: usize, new_tokens: usize) -> Result<(), ModelError> {
        if batch != self.batch {
            return Err(ModelError::CacheBatchMismatch {
                expected: self.batch,
                found: batch,
            });
        }
        if self.length + new_tokens > self.context {
            return Err(ModelError::ContextExceeded {
                length: self.length + new_tokens,
                context: self.context,
            });
        }
        Ok(())
    }

    /// Writes the new `keys` and `values` `[batch, heads, new, head_width]`
    /// of `layer` after the cached ones and returns all of them so far.
    pub(crate) fn append(
        &self,
        layer: usize,
        keys: &Tensor,
        values: &Tensor,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let Some((cached_keys, cached_values)) = self.layers.get(layer) else {
            candle_core::bail!("no cache for layer {layer}");
        };
        let new_tokens = keys.dim(2)?;
        cached_keys.slice_set(&keys.contiguous()?, 2, self.length)?;
        cached_values.slice_set(&values.contiguous()?, 2, self.length)?;
        let total = self.length + new_tokens;
        Ok((
            cached_keys.narrow(2, 0, total)?,
            cached_values.narrow(2, 0, total)?,
        ))
    }

    /// Writes the keys and values of `qkv` `[batch, new, 3 * width]` (the
    /// fused projection's output) into `layer` in place, and returns the
    /// whole preallocated storage of `layer` (`[batch, heads, context,
    /// head_width]`, valid up to the new tokens), for kernels that read it
    /// in place.
    pub(crate) fn append_from_qkv(
        &self,
        layer: usize,
        qkv: &Tensor,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let Some((cached_keys, cached_values)) = self.layers.get(layer) else {
            candle_core::bail!("no cache for layer {layer}");
        };
        super::kernels::write_cache(cached_keys, cached_values, qkv, self.length)?;
        Ok((cached_keys.clone(), cached_values.clone()))
    }

    /// Records that `new_tokens` tokens were appended to every layer.
    pub(crate) fn advance(&mut self, new_tokens: usize) {
        self.length += new_tokens;
    }
}
