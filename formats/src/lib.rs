//! # qssm-formats — file formats, no model math
//!
//! * [`edf`] (feature `std`): EDF/EDF+ reader (header, digital→physical scaling, TAL
//!   annotations) giving channel-major signals in volts.
//! * [`model_file`]: the qssm model file: safetensors with tensors named as the reference's
//!   PyTorch `state_dict`, plus a JSON "model card" in `__metadata__`. Parsing is `no_std`
//!   (with `alloc`) so the engine can read a blob from flash; writing (atomic) needs `std`;
//!   [`model_file::ModelCard::validate`] is the one check of a card's fields and relations.
//! * `onnx` (feature `onnx`): an ONNX graph held in memory (nodes, initializers, subgraphs),
//!   checked and written as an ONNX model file with `onnx-protobuf`.
//! * [`registry`]: every model a model file can hold (id, class name, family, streamability),
//!   listed once for the trainer, the engine and the C ABI.
//! * [`units`]: voltage units and sample-rate limits shared by the EDF reader and the card check.
#![cfg_attr(not(feature = "std"), no_std)]
extern crate alloc;

#[cfg(feature = "std")]
pub mod edf;
pub mod model_file;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod registry;
pub mod units;
