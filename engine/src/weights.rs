//! Weight loading and validation: takes the tensors an architecture needs out of a parsed
//! [`ModelFile`], checks each name and shape (shape computed from the card's hyperparameters),
//! widens f16/f32 to an owned `Vec<f32>` per tensor, rejects non-finite values, and at the end
//! rejects tensors nobody asked for. Used only at load time (the one place that allocates).
use crate::error::EngineError;
use alloc::format;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use qssm_formats::model_file::{ModelFile, TensorDtype};

/// Hands out the tensors of one model file, each at most once.
pub(crate) struct Loader<'f, 'a> {
    file: &'f ModelFile<'a>,
    taken: Vec<bool>,
}

impl<'f, 'a> Loader<'f, 'a> {
    /// Starts loading `file`. Errors: [`EngineError::Mismatch`] if the card's `dtype` is not
    /// `f32`/`f16` or a tensor is stored in another dtype than the card says.
    pub(crate) fn new(file: &'f ModelFile<'a>) -> Result<Self, EngineError> {
        let dtype = match file.card.dtype.as_str() {
            "f32" => TensorDtype::F32,
            "f16" => TensorDtype::F16,
            other => {
                return Err(EngineError::Mismatch {
                    what: format!("card dtype is '{other}', expected 'f32' or 'f16'"),
                })
            }
        };
        if let Some(t) = file.tensors.iter().find(|t| t.dtype != dtype) {
            return Err(EngineError::Mismatch {
                what: format!(
                    "tensor '{}' is stored as {:?} but the card says {}",
                    t.name, t.dtype, file.card.dtype
                ),
            });
        }
        Ok(Self {
            file,
            taken: vec![false; file.tensors.len()],
        })
    }

    /// The tensor `name` with exactly `shape`, as f32. Errors: `File(MissingTensor)`,
    /// `File(ShapeMismatch)`, [`EngineError::NonFiniteWeight`].
    pub(crate) fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, EngineError> {
        let t = self.file.expect(name, shape)?;
        if let Some(i) = self.file.tensors.iter().position(|u| u.name == name) {
            self.taken[i] = true;
        }
        let v = t.to_f32();
        if let Some(index) = v.iter().position(|x| !x.is_finite()) {
            return Err(EngineError::NonFiniteWeight {
                name: name.to_string(),
                index,
            });
        }
        Ok(v)
    }

    /// Like [`Self::take`] for a tensor the reference constructs but never uses (1b's
    /// `mamba_layers.i.norm.*`): absent is fine, present must have the right shape.
    pub(crate) fn accept_unused(&mut self, name: &str, shape: &[usize]) -> Result<(), EngineError> {
        if self.file.tensors.iter().any(|u| u.name == name) {
            self.take(name, shape)?;
        }
        Ok(())
    }

    /// Ends loading. Errors: [`EngineError::UnexpectedTensor`] for the first tensor of the
    /// file that the architecture `model` did not take.
    pub(crate) fn finish(self, model: &str) -> Result<(), EngineError> {
        match self.taken.iter().position(|t| !t) {
            Some(i) => Err(EngineError::UnexpectedTensor {
                name: self.file.tensors[i].name.clone(),
                model: model.to_string(),
            }),
            None => Ok(()),
        }
    }
}
