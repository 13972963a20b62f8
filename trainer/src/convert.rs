//! Re-storing an existing model file in another weight dtype (`trainer export --dtype f16`):
//! every tensor keeps its name and shape, the model card is kept as is except its `dtype`
//! field, the values are rounded to nearest (f32 → f16, IEEE binary16: 11 significant bits,
//! largest finite 65 504) or widened exactly (f16 → f32), and the file is written atomically
//! ([`qssm_formats::model_file::write_atomic`], as `trainer fit` writes its files).
//!
//! The conversion reports the rounding error per tensor (max |stored − original| in the
//! model's unit of that parameter) and overall ([`Conversion`]); it is measured on the bytes
//! actually produced (parsed back), so it is exactly what a reader of the new file sees.
use qssm_formats::model_file::{self, ModelFile, ModelFileError, TensorDtype};
use std::path::Path;

/// Errors of [`convert_bytes`] / [`convert_file`]. Each message is one line.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The input (or the output, parsed back) is not a readable qssm model file, or the
    /// output cannot be written.
    #[error("{0}")]
    File(#[from] ModelFileError),
    /// The input's model card is out of range or contradicts itself.
    #[error("{0}")]
    Card(#[from] qssm_formats::model_file::CardError),
    /// A weight of the input is NaN or ±∞.
    #[error("tensor '{name}' holds a non-finite value at index {index}")]
    NonFinite {
        /// tensor name
        name: String,
        /// flat (row-major) index
        index: usize,
    },
    /// A weight is too large for the target dtype (|v| ≥ 65 520 rounds to ±∞ in f16).
    #[error("tensor '{name}' value {value} at index {index} overflows {dtype}")]
    Overflow {
        /// tensor name
        name: String,
        /// flat (row-major) index
        index: usize,
        /// the value
        value: f32,
        /// target dtype (`f16`)
        dtype: &'static str,
    },
}

/// Rounding error of one tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorError {
    /// `state_dict` name
    pub name: String,
    /// shape
    pub shape: Vec<usize>,
    /// max |stored − original| over the tensor's elements (0 for an empty tensor)
    pub max_abs_err: f64,
    /// max |original| over the tensor's elements
    pub max_abs: f64,
}

/// The converted model file and its rounding errors.
#[derive(Clone, Debug)]
pub struct Conversion {
    /// the new model file (safetensors + card with the new `dtype`)
    pub bytes: Vec<u8>,
    /// dtype of the input file's card (`f32` / `f16`)
    pub from: String,
    /// per tensor, in the input file's order
    pub tensors: Vec<TensorError>,
}

impl Conversion {
    /// Max abs error over all tensors.
    pub fn max_abs_err(&self) -> f64 {
        self.tensors
            .iter()
            .map(|t| t.max_abs_err)
            .fold(0.0, f64::max)
    }

    /// Total number of values.
    pub fn n_values(&self) -> usize {
        self.tensors
            .iter()
            .map(|t| t.shape.iter().product::<usize>())
            .sum()
    }
}

/// Name of a dtype as written in model cards.
pub fn dtype_name(dtype: TensorDtype) -> &'static str {
    match dtype {
        TensorDtype::F32 => "f32",
        TensorDtype::F16 => "f16",
    }
}

/// Converts the model file `input` (bytes) to `dtype`. Errors: [`ConvertError::File`] (not a
/// qssm model file), [`ConvertError::Card`], [`ConvertError::NonFinite`],
/// [`ConvertError::Overflow`].
pub fn convert_bytes(input: &[u8], dtype: TensorDtype) -> Result<Conversion, ConvertError> {
    let file = ModelFile::parse(input)?;
    file.card.validate()?;
    let values: Vec<Vec<f32>> = file.tensors.iter().map(|t| t.to_f32()).collect();
    for (t, v) in file.tensors.iter().zip(&values) {
        if let Some(index) = v.iter().position(|x| !x.is_finite()) {
            return Err(ConvertError::NonFinite {
                name: t.name.clone(),
                index,
            });
        }
    }
    let bytes = file.to_bytes_with_card(&file.card, dtype)?;
    let back = ModelFile::parse(&bytes)?;
    let mut tensors = Vec::with_capacity(values.len());
    for (t, v) in file.tensors.iter().zip(&values) {
        let stored = back.expect(&t.name, &t.shape)?.to_f32();
        let (mut err, mut max_abs) = (0.0f64, 0.0f64);
        for (index, (a, b)) in v.iter().zip(&stored).enumerate() {
            if !b.is_finite() {
                return Err(ConvertError::Overflow {
                    name: t.name.clone(),
                    index,
                    value: *a,
                    dtype: dtype_name(dtype),
                });
            }
            err = err.max((*b as f64 - *a as f64).abs());
            max_abs = max_abs.max((*a as f64).abs());
        }
        tensors.push(TensorError {
            name: t.name.clone(),
            shape: t.shape.clone(),
            max_abs_err: err,
            max_abs,
        });
    }
    Ok(Conversion {
        bytes,
        from: file.card.dtype.clone(),
        tensors,
    })
}

/// Reads the model file at `input`, converts it to `dtype` ([`convert_bytes`]) and writes the
/// result to `output` atomically (`output` may equal `input`: the input is read completely
/// first). Errors: as [`convert_bytes`], plus `File(Io)` for reading or writing.
pub fn convert_file(
    input: &Path,
    output: &Path,
    dtype: TensorDtype,
) -> Result<Conversion, ConvertError> {
    let bytes = model_file::read_bytes(input)?;
    let conv = convert_bytes(&bytes, dtype)?;
    model_file::write_atomic(output, &conv.bytes).map_err(|source| ModelFileError::Io {
        path: output.display().to_string(),
        source,
    })?;
    Ok(conv)
}
