//! [`ValueHead`]: PPO's critic, a linear layer on the policy's final
//! hidden states.
//!
//! "Critic initialised from the policy": the critic shares the policy's
//! trunk (its gradients flow into the transformer), and only this layer is
//! new. Its weight is drawn from the run's seed stream (normal, standard
//! deviation 0.02, like every matrix of the model), its bias is 0.

use candle_core::{Device, Tensor, Var};

use crate::random::Stream;

/// The standard deviation of the head's initial weights (the model's).
pub const VALUE_HEAD_INITIAL_STDEV: f64 = 0.02;

/// A linear map `[width] -> [1]`.
#[derive(Debug, Clone)]
pub struct ValueHead {
    weight: Var,
    bias: Var,
}

/// Names of the head's tensors in checkpoints.
pub const VALUE_HEAD_WEIGHT: &str = "value_head.weight";
/// See [`VALUE_HEAD_WEIGHT`].
pub const VALUE_HEAD_BIAS: &str = "value_head.bias";

impl ValueHead {
    /// A fresh head for hidden states of `width`, drawn from `stream`.
    pub fn initialize(width: usize, stream: &Stream) -> candle_core::Result<Self> {
        let mut stream = stream.clone();
        let values: Vec<f32> = (0..width)
            .map(|_| (stream.next_normal() * VALUE_HEAD_INITIAL_STDEV) as f32)
            .collect();
        Ok(ValueHead {
            weight: Var::from_tensor(&Tensor::from_vec(values, (1, width), &Device::Cpu)?)?,
            bias: Var::from_tensor(&Tensor::zeros(1, candle_core::DType::F32, &Device::Cpu)?)?,
        })
    }

    /// Values `[batch, time]` of hidden states `[batch, time, width]`.
    pub fn forward(&self, hidden: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, time, width) = hidden.dims3()?;
        let flat = hidden.reshape((batch * time, width))?;
        // The fused linear map: its products sum in an order fixed by the
        // shapes (candle's `matmul` would pick gemm's own route).
        let values = crate::model::kernels::linear(
            &flat,
            self.weight.as_tensor(),
            Some(self.bias.as_tensor()),
        )?;
        values.reshape((batch, time))
    }

    /// The head's variables with their names, in a fixed order.
    pub fn named(&self) -> Vec<(String, Var)> {
        vec![
            (VALUE_HEAD_BIAS.to_string(), self.bias.clone()),
            (VALUE_HEAD_WEIGHT.to_string(), self.weight.clone()),
        ]
    }
}
