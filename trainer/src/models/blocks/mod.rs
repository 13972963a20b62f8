//! Building blocks shared by the model zoo. Each block owns the ranges of its parameters in
//! the flat buffer (see [`crate::params`]), a `forward` that fills a cache, and a `backward`
//! that accumulates parameter gradients and returns (accumulates) the input gradient.
//! Layout: one sample, token-major `(L, D)`.
pub mod chunk_processor;
pub mod conv;
pub mod dropout;
pub mod linear;
pub mod mamba;
pub mod norm;
pub mod pool;
pub mod qsb;
pub mod qsb_qgr;
pub mod ssm;

pub use chunk_processor::ChunkProcessor;
pub use conv::CausalConv;
pub use dropout::Dropout;
pub use linear::Linear;
pub use mamba::{MambaBlock, MambaBlockCache};
pub use norm::{LayerNorm, NormCache, RmsNorm};
pub use qsb::QsbQssm;
pub use qsb_qgr::QsbQgr;
pub use ssm::SelectiveSsm;
