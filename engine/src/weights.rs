//! Weight loading and validation: takes the tensors an architecture needs out of a parsed
//! [`ModelFile`], checks each name and shape (shape computed from the card's hyperparameters),
//! rejects non-finite values, and at the end rejects tensors nobody asked for. Used only at
//! load time (the one place that allocates).
//!
//! Storage: the weight matrices of `nn.Linear` layers ([`Loader::take_matrix`], ≈ 99 % of the
//! parameters) keep the file's dtype — a [`Matrix`] of f32 or of raw IEEE binary16 bits — so an
//! f16 file takes half the memory; every other tensor ([`Loader::take`]: biases, norms, conv
//! kernels, SSM parameters) is widened to an owned `Vec<f32>`.
use crate::error::EngineError;
use alloc::format;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use qssm_formats::model_file::{ModelFile, ModelFileError, TensorDtype};

/// A weight matrix (out, in) row-major, stored in the model file's dtype.
#[derive(Clone, Debug)]
pub(crate) enum Matrix {
    /// f32 values
    F32(Vec<f32>),
    /// IEEE binary16 bit patterns (all finite: checked at load)
    F16(Vec<u16>),
}

/// Hands out the tensors of one model file, each at most once.
pub(crate) struct Loader<'f, 'a> {
    file: &'f ModelFile<'a>,
    taken: Vec<bool>,
    /// bytes of weight storage handed out so far
    bytes: usize,
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
            bytes: 0,
        })
    }

    /// Bytes of weight storage handed out so far (f32 tensors 4 bytes per value, f16
    /// [`Matrix`] 2 bytes per value).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The stored shape of tensor `name`, for a dimension the card does not record (the gated
    /// models' hidden size H). Reading it does not take the tensor. Errors:
    /// `File(MissingTensor)`.
    pub(crate) fn shape(&self, name: &str) -> Result<&'f [usize], EngineError> {
        let file: &'f ModelFile<'a> = self.file;
        file.tensors
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.shape.as_slice())
            .ok_or_else(|| ModelFileError::MissingTensor(name.to_string()).into())
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
        self.bytes += 4 * v.len();
        Ok(v)
    }

    /// The weight matrix `name` with exactly `shape`, kept in the file's dtype (f16 bits stay
    /// f16). Errors as [`Self::take`].
    pub(crate) fn take_matrix(
        &mut self,
        name: &str,
        shape: &[usize],
    ) -> Result<Matrix, EngineError> {
        let t = self.file.expect(name, shape)?;
        if t.dtype == TensorDtype::F32 {
            return self.take(name, shape).map(Matrix::F32);
        }
        if let Some(i) = self.file.tensors.iter().position(|u| u.name == name) {
            self.taken[i] = true;
        }
        let bits: Vec<u16> = t
            .bytes
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect();
        // exponent all ones = ±∞ or NaN
        if let Some(index) = bits.iter().position(|h| h & 0x7c00 == 0x7c00) {
            return Err(EngineError::NonFiniteWeight {
                name: name.to_string(),
                index,
            });
        }
        self.bytes += 2 * bits.len();
        Ok(Matrix::F16(bits))
    }

    /// Like [`Self::take`] for a tensor the reference constructs but never uses (1b's
    /// `mamba_layers.i.norm.*`): absent is fine, present must have the right shape.
    pub(crate) fn accept_unused(&mut self, name: &str, shape: &[usize]) -> Result<(), EngineError> {
        if self.file.tensors.iter().any(|u| u.name == name) {
            let v = self.take(name, shape)?;
            self.bytes -= 4 * v.len(); // validated, not kept
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
