//! [`Gpt`]: the decoder-only transformer.

use candle_core::{DType, Device, Tensor, D};
use candle_nn::{Init, VarBuilder};

use super::block::Block;
use super::kernels::{self, KernelPath};
use super::kv_cache::{shared_start, CachedRows};
use super::normalization::Normalization;
use super::parameter_source::{Origin, ParameterSource, Trainable};
use super::parameters::read_safetensors;
use super::rotary_embedding::RotaryEmbedding;
use super::{KvCache, ModelConfig, ModelError, Parameters, Positions};
use crate::random::Stream;

/// Standard deviation of every initial weight matrix and embedding.
pub const INITIAL_STDEV: f64 = 0.02;

/// A pre-norm GPT: token (and learned position) embeddings, `layers`
/// blocks, a final norm, and an output projection that is the token
/// embedding itself when embeddings are tied.
///
/// Tensor names (the keys of the weights file), for block `i`:
/// `token_embedding.weight` `[vocab, width]`, `position_embedding.weight`
/// `[context, width]` (learned positions only),
/// `blocks.i.attention_norm.{weight,bias}`, `blocks.i.attention.qkv.{weight,bias}`
/// `[3 width, width]`, `blocks.i.attention.out.{weight,bias}`,
/// `blocks.i.feed_forward_norm.{weight,bias}`,
/// `blocks.i.feed_forward.{up,gate,down}.{weight,bias}` (`gate` for SwiGLU
/// only), `final_norm.{weight,bias}`, and `output.weight` `[vocab, width]`
/// when embeddings are untied. Linear weights are `[outputs, inputs]`.
#[derive(Debug, Clone)]
pub struct Gpt {
    config: ModelConfig,
    vocabulary_size: usize,
    token_embedding: Tensor,
    position_embedding: Option<Tensor>,
    blocks: Vec<Block>,
    final_norm: Normalization,
    output: Option<Tensor>,
    /// `[context, context]`: 0 where a query may see a key, -inf elsewhere
    /// (used by the composed kernel path only).
    causal_mask: Tensor,
    kernel_path: KernelPath,
}

impl Gpt {
    /// A freshly initialised model and its trainable weights, every value
    /// drawn from `stream` keyed by the tensor's name: normal with standard
    /// deviation 0.02 for matrices and embeddings, divided by
    /// `sqrt(2 * layers)` for the residual projections (`attention.out`,
    /// `feed_forward.down`), zeros for biases, ones for norm gains.
    pub fn initialize(
        config: &ModelConfig,
        vocabulary_size: usize,
        stream: &Stream,
        device: &Device,
    ) -> Result<(Gpt, Parameters), ModelError> {
        Self::build(
            config,
            vocabulary_size,
            Origin::Seeded(stream.clone()),
            Trainable::Yes,
            device,
        )
    }

    /// A model whose trainable weights are read from safetensors `bytes`
    /// (as written by [`Parameters::to_safetensors`]).
    pub fn from_safetensors(
        config: &ModelConfig,
        vocabulary_size: usize,
        bytes: &[u8],
        device: &Device,
    ) -> Result<(Gpt, Parameters), ModelError> {
        let tensors = read_safetensors(bytes)?;
        Self::build(
            config,
            vocabulary_size,
            Origin::Loaded(tensors),
            Trainable::Yes,
            device,
        )
    }

    /// A model for inference only, its weights read from safetensors
    /// `bytes` as constants rather than trainable variables: no forward pass
    /// records a gradient graph or keeps what only a backward pass needs
    /// (the attention weights, see [`kernels::causal_attention`]). Its
    /// outputs have the bits of [`Gpt::from_safetensors`]'s.
    pub fn frozen_from_safetensors(
        config: &ModelConfig,
        vocabulary_size: usize,
        bytes: &[u8],
        device: &Device,
    ) -> Result<Gpt, ModelError> {
        let tensors = read_safetensors(bytes)?;
        let (model, _) = Self::build(
            config,
            vocabulary_size,
            Origin::Loaded(tensors),
            Trainable::No,
            device,
        )?;
        Ok(model)
    }

    fn build(
        config: &ModelConfig,
        vocabulary_size: usize,
        origin: Origin,
        trainable: Trainable,
        device: &Device,
    ) -> Result<(Gpt, Parameters), ModelError> {
        config.validate()?;
        let parameters = Parameters::new();
        let source = ParameterSource::new(origin, parameters.varmap().clone(), trainable);
        let backend: Box<dyn candle_nn::var_builder::SimpleBackend> = Box::new(source.clone());
        let vb = VarBuilder::from_backend(backend, DType::F32, device.clone());
        match Self::load(vb, config, vocabulary_size) {
            Ok(model) => Ok((model, parameters)),
            Err(ModelError::Tensor(error)) => {
                Err(source.take_failure().unwrap_or(ModelError::Tensor(error)))
            }
            Err(error) => Err(error),
        }
    }

    /// Builds the model from any candle `VarBuilder` (for example one over a
    /// safetensors file), à la candle's examples.
    pub fn load(
        vb: VarBuilder,
        config: &ModelConfig,
        vocabulary_size: usize,
    ) -> Result<Gpt, ModelError> {
        config.validate()?;
        if vocabulary_size == 0 {
            return Err(ModelError::EmptyVocabulary);
        }
        let device = vb.device().clone();
        let width = config.width;
        let stdev = INITIAL_STDEV;
        let residual_stdev = INITIAL_STDEV / (2.0 * config.layers as f64).sqrt();
        let randn = Init::Randn { mean: 0.0, stdev };
        let token_embedding =
            vb.get_with_hints((vocabulary_size, width), "token_embedding.weight", randn)?;
        let (position_embedding, rotary) = match config.positions {
            Positions::Learned => (
                Some(vb.get_with_hints(
                    (config.context, width),
                    "position_embedding.weight",
                    randn,
                )?),
                None,
            ),
            Positions::Rope => (
                None,
                Some(RotaryEmbedding::new(
                    config.head_width(),
                    config.context,
                    &device,
                )?),
            ),
        };
        let blocks = (0..config.layers)
            .map(|index| {
                Block::load(
                    vb.pp(format!("blocks.{index}")),
                    config,
                    rotary.clone(),
                    stdev,
                    residual_stdev,
                )
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let final_norm = Normalization::load(vb.pp("final_norm"), config.norm, width, config.bias)?;
        let output = if config.tied_embeddings {
            None
        } else {
            Some(vb.get_with_hints((vocabulary_size, width), "output.weight", randn)?)
        };
        let context = config.context;
        let mask: Vec<f32> = (0..context * context)
            .map(|index| {
                if index % context > index / context {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        let causal_mask = Tensor::from_vec(mask, (context, context), &device)?;
        Ok(Gpt {
            config: config.clone(),
            vocabulary_size,
            token_embedding,
            position_embedding,
            blocks,
            final_norm,
            output,
            causal_mask,
            kernel_path: KernelPath::default(),
        })
    }

    /// The configuration the model was built from.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The vocabulary size.
    pub fn vocabulary_size(&self) -> usize {
        self.vocabulary_size
    }

    /// The same model (sharing its weights) running on `path`: the fused
    /// kernels (the default) or their composition from candle operations,
    /// the reference the fused kernels are tested against.
    pub fn with_kernel_path(mut self, path: KernelPath) -> Gpt {
        self.kernel_path = path;
        self
    }

    /// The kernels the model runs on.
    pub fn kernel_path(&self) -> KernelPath {
        self.kernel_path
    }

    /// The final hidden states (after the final norm) `[batch, time, width]`
    /// of `tokens` `[batch, time]` (`u32`): where a value head sits.
    pub fn hidden_states(&self, tokens: &Tensor) -> Result<Tensor, ModelError> {
        self.run(tokens, None)
    }

    /// Projects hidden states `[batch, time, width]` onto the vocabulary:
    /// logits `[batch, time, vocab]`.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor, ModelError> {
        let (batch, time, width) = hidden.dims3()?;
        let head = self.output.as_ref().unwrap_or(&self.token_embedding);
        let rows = hidden.reshape((batch * time, width))?;
        let flat = match self.kernel_path {
            KernelPath::Fused => kernels::linear(&rows, head, None)?,
            KernelPath::Composed => rows.matmul(&head.t()?)?,
        };
        Ok(flat.reshape((batch, time, self.vocabulary_size))?)
    }

    /// Logits `[batch, time, vocab]` of `tokens` `[batch, time]` (`u32`).
    pub fn forward(&self, tokens: &Tensor) -> Result<Tensor, ModelError> {
        self.logits(&self.hidden_states(tokens)?)
    }

    /// The log-probability the model gives each next token of `sequences`
    /// `[batch, time + 1]`: `[batch, time]`, entry `t` being
    /// `log p(sequences[t + 1] | sequences[..=t])`.
    pub fn token_log_probabilities(&self, sequences: &Tensor) -> Result<Tensor, ModelError> {
        let time = sequences.dim(1)?.saturating_sub(1);
        let inputs = sequences.narrow(1, 0, time)?;
        let targets = sequences.narrow(1, 1, time)?.contiguous()?;
        self.target_log_probabilities(&self.forward(&inputs)?, &targets)
    }

    /// `log softmax(logits)[target]` at every position: logits `[batch,
    /// time, vocabulary]` and targets `[batch, time]` give `[batch, time]`.
    /// The fused kernel's sums have a fixed order and its exponential and
    /// logarithm are the crate's own, so the bits are the same on every
    /// machine; the composed path is candle's `log_softmax`.
    pub fn target_log_probabilities(
        &self,
        logits: &Tensor,
        targets: &Tensor,
    ) -> Result<Tensor, ModelError> {
        let (batch, time) = targets.dims2()?;
        if self.kernel_path == KernelPath::Fused {
            let flat = logits.reshape((batch * time, self.vocabulary_size))?;
            let picked = kernels::token_log_probabilities(&flat, &targets.flatten_all()?)?;
            return Ok(picked.reshape((batch, time))?);
        }
        let log_probabilities = candle_nn::ops::log_softmax(logits, D::Minus1)?;
        Ok(log_probabilities
            .gather(&targets.unsqueeze(2)?, 2)?
            .squeeze(2)?)
    }

    /// The mean next-token cross-entropy (nats) over `sequences`
    /// `[batch, time + 1]`: the pretraining loss.
    pub fn next_token_loss(&self, sequences: &Tensor) -> Result<Tensor, ModelError> {
        Ok(self.token_log_probabilities(sequences)?.mean_all()?.neg()?)
    }

    /// Incremental decoding: logits `[batch, new, vocab]` of `tokens`
    /// `[batch, new]` that follow the tokens already in `cache`, whose keys
    /// and values are appended to it. Every row of the cache takes part, at
    /// one shared length. A first call with a whole prompt fills the cache;
    /// later calls pass one token per row. Gives the same logits as
    /// [`Gpt::forward`] over the whole sequence.
    pub fn forward_step(&self, tokens: &Tensor, cache: &mut KvCache) -> Result<Tensor, ModelError> {
        let (batch, _) = tokens.dims2()?;
        if batch != cache.batch() {
            return Err(ModelError::CacheBatchMismatch {
                expected: cache.batch(),
                found: batch,
            });
        }
        let rows: Vec<usize> = (0..batch).collect();
        self.forward_rows(tokens, &rows, cache)
    }

    /// Incremental decoding of some rows of `cache`: input row `b` of
    /// `tokens` `[batch, new]` continues cache row `rows[b]` from that row's
    /// own length. Rows may sit at different lengths and a row may be
    /// listed twice (as padding: both compute the same values) when
    /// [`Gpt::decodes_rows_apart`]; otherwise `rows` must be every row of
    /// the cache in order, at one length. A row's logits do not depend on
    /// the other rows of the call.
    pub fn forward_rows(
        &self,
        tokens: &Tensor,
        rows: &[usize],
        cache: &mut KvCache,
    ) -> Result<Tensor, ModelError> {
        let (batch, new_tokens) = tokens.dims2()?;
        if rows.len() != batch {
            return Err(ModelError::CacheBatchMismatch {
                expected: rows.len(),
                found: batch,
            });
        }
        let places = cache.places(rows, new_tokens)?;
        let hidden = self.run(
            tokens,
            Some(CachedRows {
                cache,
                places: &places,
            }),
        )?;
        cache.advance(&places, new_tokens);
        self.logits(&hidden)
    }

    /// Whether [`Gpt::forward_rows`] takes rows at different positions and
    /// any subset of a cache's rows: the fused kernels with learned
    /// positions.
    pub fn decodes_rows_apart(&self) -> bool {
        self.position_embedding.is_some()
            && self
                .blocks
                .iter()
                .all(|block| block.takes_rows_apart(self.kernel_path))
    }

    /// A key-value cache for `batch` rows of this model.
    pub fn new_cache(&self, batch: usize) -> Result<KvCache, ModelError> {
        KvCache::new(&self.config, batch, self.token_embedding.device())
    }

    fn run(&self, tokens: &Tensor, cached: Option<CachedRows<'_>>) -> Result<Tensor, ModelError> {
        let (batch, time) = tokens.dims2()?;
        // The cache checked that each row's tokens fit.
        if time > self.config.context {
            return Err(ModelError::ContextExceeded {
                length: time,
                context: self.config.context,
            });
        }
        let width = self.config.width;
        let mut hidden = self
            .token_embedding
            .index_select(&tokens.flatten_all()?, 0)?
            .reshape((batch, time, width))?;
        if let Some(positions) = &self.position_embedding {
            let places = cached.map_or(&[][..], |rows| rows.places);
            // Without a cache every row starts at 0.
            let start = cached.map_or(Some(0), |_| shared_start(places));
            let added = match start {
                Some(start) => positions.narrow(0, start, time)?.unsqueeze(0)?,
                None => {
                    // Each row's own positions: the same values, added the
                    // same way, as a shared offset gives.
                    let ids: Vec<u32> = places
                        .iter()
                        .flat_map(|place| (place.start..place.start + time).map(|p| p as u32))
                        .collect();
                    let ids = Tensor::from_vec(ids, batch * time, positions.device())?;
                    positions
                        .index_select(&ids, 0)?
                        .reshape((batch, time, width))?
                }
            };
            hidden = hidden.broadcast_add(&added)?;
        }
        for (layer, block) in self.blocks.iter().enumerate() {
            hidden = block.forward(
                &hidden,
                &self.causal_mask,
                cached.map(|rows| (rows, layer)),
                self.kernel_path,
            )?;
        }
        Ok(self.final_norm.forward(&hidden, self.kernel_path)?)
    }
}
