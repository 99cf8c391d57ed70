//! [`Parameters`]: the trainable weights of one model, by name.

use std::collections::HashMap;

use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;

use super::ModelError;

/// The trainable variables of a model, keyed by their dotted names
/// (`blocks.0.attention.qkv.weight`, ...). Always listed sorted by name, so
/// that anything summed or serialised over them has one fixed order.
#[derive(Clone)]
pub struct Parameters {
    varmap: VarMap,
}

impl std::fmt::Debug for Parameters {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.named().map(|named| named.len()).unwrap_or(0);
        write!(formatter, "Parameters({count} tensors)")
    }
}

impl Parameters {
    /// An empty set, to be filled while a model is built.
    pub(crate) fn new() -> Self {
        Parameters {
            varmap: VarMap::new(),
        }
    }

    /// The underlying candle variable map.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// Every variable with its name, sorted by name.
    pub fn named(&self) -> Result<Vec<(String, Var)>, ModelError> {
        let variables = self
            .varmap
            .data()
            .lock()
            .map_err(|_| ModelError::Poisoned)?;
        let mut named: Vec<(String, Var)> = variables
            .iter()
            .map(|(name, variable)| (name.clone(), variable.clone()))
            .collect();
        named.sort_by(|left, right| left.0.cmp(&right.0));
        Ok(named)
    }

    /// The number of trainable scalars.
    pub fn scalar_count(&self) -> Result<usize, ModelError> {
        Ok(self
            .named()?
            .iter()
            .map(|(_, variable)| variable.elem_count())
            .sum())
    }

    /// The weights as safetensors bytes (little-endian `F32`, names as in
    /// [`Parameters::named`], no metadata). Equal weights give equal bytes.
    pub fn to_safetensors(&self) -> Result<Vec<u8>, ModelError> {
        let named = self.named()?;
        let tensors: Vec<(String, Tensor)> = named
            .into_iter()
            .map(|(name, variable)| (name, variable.as_tensor().clone()))
            .collect();
        Ok(safetensors::serialize(tensors, None)?)
    }

    /// Overwrites every variable with the tensor of the same name in
    /// safetensors `bytes`; every variable must be present with its shape.
    pub fn load_safetensors(&self, bytes: &[u8]) -> Result<(), ModelError> {
        let tensors = read_safetensors(bytes)?;
        for (name, variable) in self.named()? {
            let Some(tensor) = tensors.get(&name) else {
                return Err(ModelError::MissingWeight { name });
            };
            if tensor.dims() != variable.dims() {
                return Err(ModelError::WeightShape {
                    name,
                    expected: variable.dims().to_vec(),
                    found: tensor.dims().to_vec(),
                });
            }
            variable.set(tensor)?;
        }
        Ok(())
    }

    /// The blake3 digest (hex) of [`Parameters::to_safetensors`].
    pub fn digest(&self) -> Result<String, ModelError> {
        Ok(blake3::hash(&self.to_safetensors()?).to_hex().to_string())
    }
}

/// Reads every tensor of safetensors `bytes` onto the CPU.
pub(crate) fn read_safetensors(bytes: &[u8]) -> Result<HashMap<String, Tensor>, ModelError> {
    Ok(candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?)
}
