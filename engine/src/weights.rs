//! Weight loading and validation: takes the tensors an architecture needs out of a parsed
//! [`ModelFile`], checks each name and shape (shape computed from the card's hyperparameters),
//! rejects non-finite values, and at the end rejects tensors nobody asked for. Used only at
//! load time (the one place that allocates).
//!
//! Storage: every parameter of a model is kept once, in the file's dtype, in one [`Store`] laid
//! out as the model's shared description's parameter buffer (`qssm_models`): the window path
//! runs on it, and the streaming code's weight matrices ([`Loader::take_matrix`], ≈ 99 % of the
//! parameters) are [`Matrix`] views of it (f32 or raw IEEE binary16 bits), so an f16 file takes
//! half the memory; the streaming code's other tensors ([`Loader::take`]: biases, norms, conv
//! kernels, SSM parameters) are small owned `Vec<f32>` copies.
use crate::error::EngineError;
use alloc::format;
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;
use qssm_formats::model_file::{ModelFile, ModelFileError, TensorDtype};
use qssm_models::params::ParamLayout;

/// Parameters in the model file's dtype, in one buffer.
pub(crate) enum Store {
    /// f32 values
    F32(Vec<f32>),
    /// IEEE binary16 bit patterns (all finite: checked at load)
    F16(Vec<u16>),
}

impl Store {
    /// Values stored.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::F16(v) => v.len(),
        }
    }
}

impl core::fmt::Debug for Store {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let dtype = if matches!(self, Self::F32(_)) {
            "f32"
        } else {
            "f16"
        };
        write!(f, "Store({dtype} × {})", self.len())
    }
}

/// A weight matrix (out, in) row-major: a range of a [`Store`], in the file's dtype.
#[derive(Clone, Debug)]
pub(crate) struct Matrix {
    store: Arc<Store>,
    range: Range<usize>,
}

/// The values of a [`Matrix`].
pub(crate) enum MatrixView<'a> {
    /// f32 values
    F32(&'a [f32]),
    /// IEEE binary16 bit patterns
    F16(&'a [u16]),
}

impl Matrix {
    /// The matrix's values.
    pub(crate) fn view(&self) -> MatrixView<'_> {
        match &*self.store {
            Store::F32(v) => MatrixView::F32(&v[self.range.clone()]),
            Store::F16(v) => MatrixView::F16(&v[self.range.clone()]),
        }
    }
}

/// Hands out the tensors of one model file, each at most once.
pub(crate) struct Loader<'f, 'a> {
    file: &'f ModelFile<'a>,
    taken: Vec<bool>,
    /// bytes of weight storage handed out so far
    bytes: usize,
    /// the model's parameters already loaded in its description's layout, tensor i of the
    /// layout at `starts[i]` of the store: matrices are views
    shared: Option<(&'f ParamLayout, &'f [usize], Arc<Store>)>,
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
            shared: None,
        })
    }

    /// A loader whose matrices are views of `store`, the parameters of `layout` (loaded by
    /// another loader of the same file; tensor i of the layout at `starts[i]`):
    /// [`Self::take_matrix`] checks the file's tensor and copies nothing.
    pub(crate) fn sharing(
        file: &'f ModelFile<'a>,
        layout: &'f ParamLayout,
        starts: &'f [usize],
        store: Arc<Store>,
    ) -> Result<Self, EngineError> {
        let mut ld = Self::new(file)?;
        ld.shared = Some((layout, starts, store));
        Ok(ld)
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
    /// f16): a view of the shared store where the loader has one ([`Self::sharing`]) and the
    /// shared layout keeps `name` there (a weight matrix of the description), else its own
    /// copy. Errors as [`Self::take`].
    pub(crate) fn take_matrix(
        &mut self,
        name: &str,
        shape: &[usize],
    ) -> Result<Matrix, EngineError> {
        let view = self.shared.as_ref().and_then(|(layout, starts, store)| {
            // a weight matrix of the shared layout is in the store; other tensors are not
            let i = layout
                .specs()
                .iter()
                .position(|s| s.name == name && s.matrix)?;
            let start = starts[i];
            Some((store.clone(), start..start + layout.specs()[i].range.len()))
        });
        if let Some((store, range)) = view {
            self.file.expect(name, shape)?;
            self.mark(name);
            return Ok(Matrix { store, range });
        }
        let store = self.take_stored(name, shape)?;
        let range = 0..store.len();
        Ok(Matrix {
            store: Arc::new(store),
            range,
        })
    }

    /// The tensor `name` with exactly `shape`, in the file's dtype. Errors as [`Self::take`].
    pub(crate) fn take_stored(
        &mut self,
        name: &str,
        shape: &[usize],
    ) -> Result<Store, EngineError> {
        let t = self.file.expect(name, shape)?;
        if t.dtype == TensorDtype::F32 {
            return self.take(name, shape).map(Store::F32);
        }
        self.mark(name);
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
        Ok(Store::F16(bits))
    }

    /// Marks tensor `name` as taken.
    fn mark(&mut self, name: &str) {
        if let Some(i) = self.file.tensors.iter().position(|u| u.name == name) {
            self.taken[i] = true;
        }
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
