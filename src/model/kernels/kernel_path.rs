//! [`KernelPath`]: whether the model runs its fused kernels or the
//! equivalent composition of candle operations.

/// Which implementation of activations, norms, attention softmax and the
/// token log-probabilities the model uses.
///
/// Both compute the same functions; their results agree to rounding (the
/// fused kernels sum in another order and never materialise the mask). The
/// composed path exists as the reference the fused one is tested against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KernelPath {
    /// The hand-written kernels of [`crate::model::kernels`] (the default).
    #[default]
    Fused,
    /// Basic candle tensor operations, differentiated by candle's autograd.
    Composed,
}
