//! [`ModelConfig`]: the shape of a GPT, its named presets, its exact
//! parameter count and its validation.

use serde::{Deserialize, Serialize};

use super::{Activation, ModelError};

/// The names accepted by [`ModelConfig::preset`], smallest first.
pub const PRESET_NAMES: [&str; 3] = ["tiny", "small", "medium"];

/// The normalisation applied before each sub-layer and at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    /// Layer normalisation: subtract the mean, divide by the standard
    /// deviation, then a gain (and a bias when the model has biases).
    LayerNorm,
    /// RMS normalisation: divide by the root mean square, then a gain.
    RmsNorm,
}

/// How the model knows where a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Positions {
    /// A learned embedding per position, added to the token embedding.
    Learned,
    /// Rotary embeddings (RoPE) applied to queries and keys in every layer.
    Rope,
}

/// The shape of a decoder-only transformer. The vocabulary size is not part
/// of it: it comes from the tokenizer at run time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Transformer blocks.
    pub layers: usize,
    /// Width of the residual stream (embedding size).
    pub width: usize,
    /// Attention heads per block; must divide `width`.
    pub heads: usize,
    /// Longest sequence the model reads (learned positions and cache size).
    pub context: usize,
    /// Hidden width of the feed-forward layer as a multiple of `width`.
    pub mlp_ratio: usize,
    /// The feed-forward non-linearity.
    pub activation: Activation,
    /// The normalisation.
    pub norm: NormKind,
    /// Learned or rotary positions.
    pub positions: Positions,
    /// Whether the output projection reuses the token embedding.
    pub tied_embeddings: bool,
    /// Whether linear layers (and layer norms) have biases.
    pub bias: bool,
}

impl ModelConfig {
    /// A named preset (`tiny`, `small`, `medium`; see [`PRESET_NAMES`]), or
    /// `None` for an unknown name. All presets use `mlp_ratio` 4, GELU,
    /// layer norm, learned positions, tied embeddings and biases.
    pub fn preset(name: &str) -> Option<ModelConfig> {
        let (layers, width, heads) = match name {
            "tiny" => (2, 80, 2),
            "small" => (4, 128, 4),
            "medium" => (6, 256, 8),
            _ => return None,
        };
        Some(ModelConfig {
            layers,
            width,
            heads,
            context: 192,
            mlp_ratio: 4,
            activation: Activation::Gelu,
            norm: NormKind::LayerNorm,
            positions: Positions::Learned,
            tied_embeddings: true,
            bias: true,
        })
    }

    /// Width of one attention head.
    pub fn head_width(&self) -> usize {
        self.width / self.heads.max(1)
    }

    /// Hidden width of the feed-forward layer.
    pub fn hidden_width(&self) -> usize {
        self.width * self.mlp_ratio
    }

    /// Checks that the configuration describes a buildable model.
    pub fn validate(&self) -> Result<(), ModelError> {
        for (field, value) in [
            ("layers", self.layers),
            ("width", self.width),
            ("heads", self.heads),
            ("context", self.context),
            ("mlp_ratio", self.mlp_ratio),
        ] {
            if value == 0 {
                return Err(ModelError::ZeroSize { field });
            }
        }
        if !self.width.is_multiple_of(self.heads) {
            return Err(ModelError::HeadsDoNotDivideWidth {
                heads: self.heads,
                width: self.width,
            });
        }
        if self.positions == Positions::Rope && !self.head_width().is_multiple_of(2) {
            return Err(ModelError::OddRotaryHeadWidth {
                head_width: self.head_width(),
            });
        }
        Ok(())
    }

    /// The exact number of trainable scalars for a vocabulary of
    /// `vocabulary_size` tokens (a test checks it against the real tensors).
    pub fn parameter_count(&self, vocabulary_size: usize) -> usize {
        let width = self.width;
        let hidden = self.hidden_width();
        let bias = usize::from(self.bias);
        let norm = match self.norm {
            NormKind::LayerNorm => width * (1 + bias),
            NormKind::RmsNorm => width,
        };
        let linear = |inputs: usize, outputs: usize| inputs * outputs + bias * outputs;
        let attention = linear(width, 3 * width) + linear(width, width);
        let feed_forward =
            self.activation.up_projections() * linear(width, hidden) + linear(hidden, width);
        let block = 2 * norm + attention + feed_forward;
        let embeddings = vocabulary_size * width
            + match self.positions {
                Positions::Learned => self.context * width,
                Positions::Rope => 0,
            };
        let head = if self.tied_embeddings {
            0
        } else {
            vocabulary_size * width
        };
        embeddings + self.layers * block + norm + head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_have_the_documented_shapes_and_unknown_names_are_none() {
        let small = ModelConfig::preset("small").unwrap();
        assert_eq!((small.layers, small.width, small.heads), (4, 128, 4));
        // The calibration prototype's small GPT had 835,072 parameters at
        // context 160 with 166 tokens; context 192 adds 32 x 128 positions.
        let mut at_160 = small.clone();
        at_160.context = 160;
        assert_eq!(at_160.parameter_count(166), 835_072);
        assert_eq!(small.parameter_count(166), 835_072 + 32 * 128);
        assert!(ModelConfig::preset("huge").is_none());
        for name in PRESET_NAMES {
            ModelConfig::preset(name).unwrap().validate().unwrap();
        }
    }

    #[test]
    fn validation_rejects_heads_that_do_not_divide_the_width() {
        let mut config = ModelConfig::preset("tiny").unwrap();
        config.heads = 3;
        assert!(matches!(
            config.validate(),
            Err(ModelError::HeadsDoNotDivideWidth {
                heads: 3,
                width: 80
            })
        ));
        config.heads = 0;
        assert!(matches!(
            config.validate(),
            Err(ModelError::ZeroSize { field: "heads" })
        ));
        config.heads = 80;
        config.positions = Positions::Rope;
        assert!(matches!(
            config.validate(),
            Err(ModelError::OddRotaryHeadWidth { head_width: 1 })
        ));
    }
}
