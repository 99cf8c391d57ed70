//! [`ModelError`]: what can go wrong when configuring, building or running
//! the model.

/// An error from the model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A size in the configuration is zero.
    #[error("model field `{field}` must be at least 1")]
    ZeroSize {
        /// The configuration field.
        field: &'static str,
    },
    /// The number of heads does not divide the width.
    #[error("`heads` ({heads}) must divide `width` ({width})")]
    HeadsDoNotDivideWidth {
        /// Attention heads.
        heads: usize,
        /// Model width.
        width: usize,
    },
    /// Rotary positions rotate pairs of features, so a head's width must be even.
    #[error("rotary positions need an even head width, got {head_width}")]
    OddRotaryHeadWidth {
        /// Width of one head (`width / heads`).
        head_width: usize,
    },
    /// The vocabulary is empty.
    #[error("`vocabulary_size` must be at least 1")]
    EmptyVocabulary,
    /// A sequence is longer than the model's context.
    #[error("sequence of {length} tokens exceeds the model's `context` of {context}")]
    ContextExceeded {
        /// Tokens requested (for a cache: already cached plus new).
        length: usize,
        /// The configured context.
        context: usize,
    },
    /// A key-value cache was used with a batch of another size.
    #[error("key-value cache holds a batch of {expected} rows, got {found}")]
    CacheBatchMismatch {
        /// Rows the cache was made for.
        expected: usize,
        /// Rows given.
        found: usize,
    },
    /// A row named for decoding is not a row of the key-value cache.
    #[error("key-value cache holds {rows} rows, row {row} was asked for")]
    CacheRowOutOfRange {
        /// Rows the cache holds.
        rows: usize,
        /// The row asked for.
        row: usize,
    },
    /// A weight the model needs is missing from a weights file.
    #[error("weight `{name}` is missing")]
    MissingWeight {
        /// The tensor's name.
        name: String,
    },
    /// A weight has the wrong shape.
    #[error("weight `{name}` has shape {found:?}, expected {expected:?}")]
    WeightShape {
        /// The tensor's name.
        name: String,
        /// The shape the configuration implies.
        expected: Vec<usize>,
        /// The shape found.
        found: Vec<usize>,
    },
    /// The parameter store's lock was poisoned by a panic in another thread.
    #[error("the parameter store was poisoned by a panic elsewhere")]
    Poisoned,
    /// Reading or writing a weights file failed.
    #[error("cannot access weights file `{path}`: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A weights file is not valid safetensors.
    #[error("invalid safetensors data: {0}")]
    Safetensors(#[from] safetensors::SafeTensorError),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
}
