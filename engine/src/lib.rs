//! # qssm-engine — inference for qssm model files (`no_std` + `alloc`)
//!
//! Loads a model file (safetensors + model card, see [`qssm_formats::model_file`]) from a byte
//! slice into a validated [`Model`], classifies full windows with
//! [`Model::classify_window`], and streams causal models one time sample at a time with a
//! [`Stream`] (prefix-exact, fixed-size state, no allocation per sample; see [`stream`]). The math is the trainer's eval-mode forward (dropout =
//! identity), composed from the `qssm_kernels` forward ops; parameters are named exactly as
//! the reference's PyTorch `state_dict`.
//!
//! Supported architectures ([`supported_models`], the inference models of
//! [`qssm_formats::registry`]):
//! * **1b** `QuantumMambaSSM` (reference `models/QuantumSSM.py`, spec §4.2), including its
//!   quirks: zero pad rows of the last chunk enter the chunk softmax, block i's SSM starts
//!   from block i−1's final state, branch weights |c|/√(|α|²+|β|²+|γ|²+1e-8), f64 expectation
//!   values cast to f32, RY encoding tanh(·)·π with π as f32; its **causal variant** (card
//!   `causal = true`: every block's scan from zero, pad rows masked out of the chunk softmax)
//!   also streams, chunk by chunk (32 samples);
//! * **1c** `QuantumHydraSSM` (reference `models/QuantumSSM.py`, spec §4.3), window-only:
//!   three chunk processors (forward, time-reversed, diagonal) mixed by |α|, |β|, |γ| of
//!   complex weights, then Hydra blocks (forward + backward selective scans, diagonal);
//! * **3b** `TrueClassicalMamba` (reference `models/TrueClassicalMamba.py`, spec §4.5);
//!   streams sample by sample;
//! * **mg** `QuantumMambaGated` (reference `models/QuantumGatedRecurrence.py`, spec
//!   gated-and-protocols §1.6): per-sample QGR circuits (angles 2π·σ(proj + base), either
//!   ansatz the card's circuit layout names, `unified…` or `legacy4…`), chunk means, gated
//!   recurrence h ← o ⊙ tanh(f ⊙ h + i ⊙ g); causal, streams chunk by chunk (its chunk size);
//! * **hg** `QuantumHydraGated` (same file, §1.7), window-only: forward and time-reversed gated
//!   recurrences plus a global branch, mixed by |α h_f + β h_b + γ h_g| normalised.
//! * **3c** `TrueClassicalHydra` (reference `models/TrueClassicalHydra.py`, spec §4.6),
//!   window-only: Hydra blocks with one set of SSM parameters scanned forward and backward
//!   (input term B·x without Δ), post-norm residuals, GELU classifier head;
//! * **3a** `ClassicalTransformer` (reference `models/ClassicalTransformer.py`, spec §4.4),
//!   window-only: sinusoidal `pos_encoding` (read from the file), pre-norm transformer blocks
//!   (4-head bidirectional attention over all T samples, gated MLP);
//! * **1a** `QuantumTransformer` (reference `models/QuantumTransformer.py`, spec §4.1),
//!   window-only: a chunk processor (cs = 16) with QGR-flavour circuit branches (angles
//!   2π·σ(proj + base), unified ansatz), then the transformer blocks over the chunk tokens.
//! * **2a–2c** `ClassicalQuantumAttention`, `ClassicalMambaQuantumSSM`,
//!   `ClassicalHydraQuantumSSM` (reference `models/QuantumMixingSSM.py`, spec groups-2-4
//!   §3.1–3.3), window-only: Linear embedding → chunk attention pooling (16) → 2a: one circuit
//!   per chunk, their states mixed by the LCU of `mix_coeffs` (which fixes the window length),
//!   a QFF layer, measured once; 2b: stacked quantum SSM cores (a circuit recurrence over the
//!   chunks, state carried across layers); 2c: forward + backward cores and a diagonal branch
//!   per layer; ReLU classifier head.
//! * **2d, 2e** `QuantumMambaHydraSSM`, `QuantumHydraHydraSSM` (reference
//!   `models/QuantumHydraSSM.py`, spec groups-2-4 §3.4–3.5): per-sample Linear → LayerNorm →
//!   SiLU → chunk attention pooling (32) → per chunk the S3 superposition of three branch
//!   states (E(a)·D², E(a)·Bk², E(a)·U²; 2e: two cores) → `output_proj` → softmax pooling over
//!   chunks → SiLU head; stream chunk by chunk, predictions at t = 32(k+1).
//! * **4a–4e** `QuantumTransformerE2E`, `QuantumMambaE2E`, `QuantumHydraE2E`,
//!   `QuantumMambaE2E_Superposition`, `QuantumHydraE2E_Superposition` (reference
//!   `models/QuantumE2E*.py`, spec groups-2-4 §3.6–3.11): Conv3 front-end (one-sample
//!   look-ahead) → LayerNorm → chunk attention pooling (16) → one composed circuit per chunk
//!   (4d/4e: S3 superposition of three branch states per core) → `output_proj` → softmax
//!   pooling over chunks → SiLU head; stream chunk by chunk, predictions at t = 16(k+1) + 1.
//! * **hqc-mamba** `HqcMamba` (model A of spec hqc-mamba-and-quantum-train §3.3–3.4) and its
//!   classical twin **hqc-mamba-classical**: the 3b network with d_inner = expand·d_model (the
//!   card's `architecture.expand`) over one unitless input channel (an image as a pixel
//!   sequence); model A's `in_proj`, `x_proj` and `out_proj` are quantum projections (QProj:
//!   amplitude encoding, `StronglyEntanglingLayers`, marginal probabilities, affine; the
//!   trainer's `qssm_kernels::circuit::qproj`, options from the card's
//!   `architecture.qproj`), one circuit per token, so inference itself is quantum. Both
//!   stream pixel by pixel through their description's step (the trainer's), four pixels per
//!   step between predictions;
//! * **qt-cnn** `ClassicalTargetNN` (the Quantum-Train seed's target CNN, spec
//!   hqc-mamba-and-quantum-train §5.2), window-only: one 28×28 image (1 channel, 784 samples,
//!   row-major) → two 3×3 conv + ReLU + 2×2 max-pool stages → 200 → 30 → 10; the weights of a
//!   CNN trained directly or generated by a trained Quantum-Train (`trainer export --format
//!   generated-cnn`);
//! * **qt-liu-cnn** `CNNModel` (qt-liu's target CNN, §5.3), the same with two 5×5 conv +
//!   2×2 max-pool stages (1 → 8 → 12 channels) → 192 → 20 → 10 and no activations; both CNNs
//!   are one description, `qssm_kernels::ops::target_cnn`.
//!
//! The gated models' hidden size H, which the card does not record, is read from the stored
//! shape of their `chunk_agg.1` LayerNorm; the chunk size and ansatz from the card's `circuit`.
//!
//! Shape legend used in the docs: C channels, T time samples, D `d_model`, E `d_inner`
//! (= 2·D), N `d_state`, Q qubits (n in the gated models), H hidden size of the gated
//! models. Input windows are (C, T) **channel-major** in the card's unit (`input.unit`,
//! **millivolts** for the reference models).
//!
//! ```no_run
//! # fn main() -> Result<(), qssm_engine::EngineError> {
//! let bytes: &[u8] = &[]; // the model file, e.g. from flash
//! let model = qssm_engine::Model::from_bytes(bytes)?;
//! let window = vec![0.0f32; model.input_len()]; // (C, T) in mV
//! let p = model.classify_window(&window)?;
//! println!("class {} p = {:?}", p.class, p.probabilities);
//! # Ok(()) }
//! ```
//!
//! Allocation happens at load, per window (activations), and once per stream (its state and
//! scratch, unless the caller lends them); never per streamed sample. Weights: every parameter
//! is stored once, in the file's dtype, laid out as the model's shared description's parameter
//! buffer, and read in place by windows and streams (an f16 file keeps its weight matrices f16,
//! widened in registers with f32 accumulation by the matrix-vector products); a window makes
//! f32 copies of the other tensors for itself, and a stream keeps f32 copies of them (biases,
//! norms, conv kernels, SSM parameters: a few percent of the parameters). A window runs the model's description from `qssm_models`, the trainer's own, on
//! the CPU backend (the HQC Mambas too: `TrueClassicalMamba::hqc_mamba`; the Quantum-Train CNNs
//! run the shared `qssm_kernels::ops::target_cnn` forward through their engine form). Feature
//! `std` (default) adds [`Model::from_path`],
//! `std::error::Error` for [`EngineError`], and run-time AVX2 dispatch of the streaming
//! kernels on x86.
#![no_std]
#![warn(missing_docs)]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod arch;
pub mod error;
pub mod model;
pub mod stream;
mod weights;
pub mod window;

pub use error::EngineError;
pub use model::{supported_models, Model};
pub use qssm_formats::model_file::{ModelCard, ModelFileError};
pub use stream::{
    required_scratch_bytes, required_state_bytes, Stream, StreamOptions, StreamPrediction, Unit,
};
pub use window::Prediction;
