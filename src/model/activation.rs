//! [`Activation`]: the non-linearity of the feed-forward layers.

use serde::{Deserialize, Serialize};

/// The feed-forward non-linearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// GELU with the tanh approximation (GPT-2's), on one up-projection.
    Gelu,
    /// SwiGLU: `silu(gate(x)) * up(x)`, two up-projections of the same width.
    Swiglu,
    /// The rectified linear unit, on one up-projection.
    Relu,
}

impl Activation {
    /// How many `width x hidden` up-projections the feed-forward layer has.
    pub fn up_projections(self) -> usize {
        match self {
            Activation::Gelu | Activation::Relu => 1,
            Activation::Swiglu => 2,
        }
    }
}
