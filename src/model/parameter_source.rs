//! [`ParameterSource`]: the candle `VarBuilder` backend that creates the
//! model's trainable variables, either from the seeded generator or from
//! tensors read from a file.
//!
//! Going through `VarBuilder` keeps the model's structure à la candle
//! (`load(vb.pp("name"), config)`), while the values come from here: each
//! tensor's seeded values are a function of the seed and the tensor's full
//! name only, so adding, removing or reordering layers never changes the
//! values of the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarMap};

use super::ModelError;
use crate::random::Stream;

/// Where the values of new variables come from.
pub(crate) enum Origin {
    /// Drawn from this stream, derived per tensor name.
    Seeded(Stream),
    /// Copied from these tensors, by name.
    Loaded(HashMap<String, Tensor>),
}

/// Whether the model's weights are handed out as trainable variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trainable {
    /// Variables: forward passes record the graph that gradients need.
    Yes,
    /// Constants with the same values (inference only): forward passes
    /// record nothing.
    No,
}

/// A `VarBuilder` backend that registers every tensor it hands out as a
/// variable in a [`VarMap`] and hands out that variable, or with
/// [`Trainable::No`] a constant view of it. Clones share everything, so the
/// builder can read a failure back after handing a clone to candle.
#[derive(Clone)]
pub(crate) struct ParameterSource {
    origin: Arc<Origin>,
    varmap: VarMap,
    trainable: Trainable,
    failure: Arc<Mutex<Option<ModelError>>>,
}

/// The stream of a tensor: the parent stream derived by the first eight
/// bytes of the blake3 digest of the tensor's name.
pub(crate) fn tensor_stream(stream: &Stream, name: &str) -> Stream {
    let digest = blake3::hash(name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    stream.derive(&[u64::from_le_bytes(first)])
}

impl ParameterSource {
    /// A source of values, registering variables in `varmap`.
    pub(crate) fn new(origin: Origin, varmap: VarMap, trainable: Trainable) -> Self {
        ParameterSource {
            origin: Arc::new(origin),
            varmap,
            trainable,
            failure: Arc::new(Mutex::new(None)),
        }
    }

    /// What the model gets for `variable`: itself, or a constant sharing
    /// its values.
    fn handle(&self, variable: &Var) -> Tensor {
        match self.trainable {
            Trainable::Yes => variable.as_tensor().clone(),
            Trainable::No => variable.as_tensor().detach(),
        }
    }

    /// The typed error behind the last failure, if this source caused it
    /// (candle's backend interface only carries untyped errors).
    pub(crate) fn take_failure(&self) -> Option<ModelError> {
        self.failure.lock().ok().and_then(|mut slot| slot.take())
    }

    fn fail(&self, error: ModelError) -> candle_core::Error {
        let message = error.to_string();
        if let Ok(mut slot) = self.failure.lock() {
            *slot = Some(error);
        }
        candle_core::Error::Msg(message)
    }

    fn create(&self, shape: &Shape, name: &str, hint: Init) -> candle_core::Result<Tensor> {
        match self.origin.as_ref() {
            Origin::Seeded(stream) => match hint {
                Init::Const(value) => Tensor::full(value as f32, shape, &Device::Cpu),
                Init::Randn { mean, stdev } => {
                    let mut values = tensor_stream(stream, name);
                    let data: Vec<f32> = (0..shape.elem_count())
                        .map(|_| (mean + stdev * values.next_normal()) as f32)
                        .collect();
                    Tensor::from_vec(data, shape, &Device::Cpu)
                }
                other => Err(candle_core::Error::Msg(format!(
                    "seeded initialisation of `{name}` does not support {other:?}"
                ))),
            },
            Origin::Loaded(tensors) => {
                let Some(tensor) = tensors.get(name) else {
                    return Err(self.fail(ModelError::MissingWeight {
                        name: name.to_string(),
                    }));
                };
                if tensor.dims() != shape.dims() {
                    return Err(self.fail(ModelError::WeightShape {
                        name: name.to_string(),
                        expected: shape.dims().to_vec(),
                        found: tensor.dims().to_vec(),
                    }));
                }
                tensor.to_dtype(DType::F32)
            }
        }
    }
}

impl SimpleBackend for ParameterSource {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        hint: Init,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let mut variables = self
            .varmap
            .data()
            .lock()
            .map_err(|_| self.fail(ModelError::Poisoned))?;
        if let Some(existing) = variables.get(name) {
            let tensor = existing.as_tensor();
            if tensor.dims() != shape.dims() {
                return Err(self.fail(ModelError::WeightShape {
                    name: name.to_string(),
                    expected: shape.dims().to_vec(),
                    found: tensor.dims().to_vec(),
                }));
            }
            return Ok(self.handle(existing));
        }
        let tensor = self
            .create(&shape, name, hint)?
            .to_dtype(dtype)?
            .to_device(device)?;
        let variable = Var::from_tensor(&tensor)?;
        let handle = self.handle(&variable);
        variables.insert(name.to_string(), variable);
        Ok(handle)
    }

    fn get_unchecked(
        &self,
        name: &str,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let variables = self
            .varmap
            .data()
            .lock()
            .map_err(|_| self.fail(ModelError::Poisoned))?;
        match variables.get(name) {
            Some(variable) => self.handle(variable).to_dtype(dtype)?.to_device(device),
            None => Err(self.fail(ModelError::MissingWeight {
                name: name.to_string(),
            })),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        let registered = self
            .varmap
            .data()
            .lock()
            .map(|variables| variables.contains_key(name))
            .unwrap_or(false);
        registered
            || match self.origin.as_ref() {
                Origin::Seeded(_) => false,
                Origin::Loaded(tensors) => tensors.contains_key(name),
            }
    }
}
