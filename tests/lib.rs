//! Shared helpers for the workspace-level tests: locating `../shared` and reading the
//! reference parity fixtures (`shared/fixtures/reference/<id>.safetensors`).
pub mod chunk_stream;
pub mod engine_case;
pub mod parity_check;

use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::PathBuf;

/// The `shared/` directory next to the workspace, if present.
pub fn shared_dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("shared");
    d.is_dir().then_some(d)
}

/// One tensor of a fixture, widened to f32 (i64 labels converted).
#[derive(Clone, Debug)]
pub struct Tensor {
    /// shape
    pub shape: Vec<usize>,
    /// row-major values
    pub data: Vec<f32>,
}

/// A parity fixture: every tensor by name, and its metadata.
pub struct Fixture {
    /// tensors by name (`param.*`, `grad.*`, `act.*`, `input.*`, `output.*`)
    pub tensors: HashMap<String, Tensor>,
    /// `__metadata__`
    pub metadata: HashMap<String, String>,
}

impl Fixture {
    /// Loads `shared/fixtures/reference/<name>.safetensors`; `None` (and a note on stderr) if
    /// the shared directory is absent.
    pub fn load(name: &str) -> Option<Fixture> {
        let Some(dir) = shared_dir() else {
            eprintln!("note: ../shared not found, skipping fixture {name}");
            return None;
        };
        let bytes = std::fs::read(
            dir.join("fixtures/reference")
                .join(format!("{name}.safetensors")),
        )
        .expect("fixture readable");
        let (_, meta) = SafeTensors::read_metadata(&bytes).expect("fixture header");
        let st = SafeTensors::deserialize(&bytes).expect("fixture parses");
        let mut tensors = HashMap::new();
        for (k, v) in st.tensors() {
            let data: Vec<f32> = match v.dtype() {
                Dtype::F32 => v
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                    .collect(),
                Dtype::I64 => v
                    .data()
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f32)
                    .collect(),
                d => panic!("unexpected dtype {d:?} in {k}"),
            };
            tensors.insert(
                k,
                Tensor {
                    shape: v.shape().to_vec(),
                    data,
                },
            );
        }
        let metadata = meta.metadata().clone().unwrap_or_default();
        Some(Fixture { tensors, metadata })
    }

    /// Tensor by name.
    ///
    /// # Panics
    /// If the fixture lacks it.
    pub fn get(&self, name: &str) -> &Tensor {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("fixture lacks {name}"))
    }

    /// Integer metadata field.
    pub fn meta_usize(&self, key: &str) -> usize {
        self.metadata[key].parse().expect("integer metadata")
    }
}

/// max |a − b|.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// max |a|.
pub fn max_abs(a: &[f32]) -> f32 {
    a.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}
