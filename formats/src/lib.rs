//! # qssm-formats — file formats, no model math
//!
//! * [`edf`]: EDF/EDF+ reader (header, digital→physical scaling, TAL annotations) giving
//!   channel-major signals in volts.
//! * [`model_file`]: the qssm model file: safetensors with tensors named as the reference's
//!   PyTorch `state_dict`, plus a JSON "model card" in `__metadata__`.
pub mod edf;
pub mod model_file;
