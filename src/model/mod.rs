//! The model: a small decoder-only transformer (GPT) in candle.
//!
//! Owns the architecture ([`Gpt`] and its blocks), the configuration with its
//! named presets ([`ModelConfig`]), the seeded initialisation and the
//! container of trainable weights ([`Parameters`]), and the key-value cache of
//! incremental decoding ([`KvCache`]).
//!
//! Two facts about candle 0.11.1 on the CPU shape this module:
//! - its fused `LayerNorm`, `softmax_last_dim` and `rms_norm` pass no
//!   gradient, so every layer here is built from basic tensor operations
//!   that do (a test checks that every weight receives a gradient);
//! - its CPU device cannot be seeded, so every initial weight is drawn from
//!   [`crate::random::Stream`], keyed by the tensor's name, so that values do
//!   not depend on the order in which tensors are created.

mod activation;
mod attention;
mod block;
mod feed_forward;
mod gpt;
pub mod kernels;
mod kv_cache;
mod linear;
mod model_config;
mod model_error;
mod normalization;
mod parameter_source;
mod parameters;
mod process_tuning;
mod rotary_embedding;

pub use activation::Activation;
pub use gpt::Gpt;
pub use kv_cache::{KvCache, RowPlace};
pub use model_config::{ModelConfig, NormKind, Positions, PRESET_NAMES};
pub use model_error::ModelError;
pub use parameters::Parameters;
pub use process_tuning::tune_process;
