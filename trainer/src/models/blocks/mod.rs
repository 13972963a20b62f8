//! Building blocks shared by the model zoo. Each block owns the ranges of its parameters in
//! the flat buffer (see [`crate::params`]), a `forward` that fills a cache, and a `backward`
//! that accumulates parameter gradients and returns (accumulates) the input gradient.
//! Layout: one sample, token-major `(L, D)`.
pub mod attention_pool;
pub mod chunk_front;
pub mod composed_circuit;
pub mod dropout;
pub mod head;
pub mod linear;
pub mod norm;
pub mod positional;

pub use attention_pool::{AttentionPool, AttentionPoolCache};
pub use chunk_front::{ChunkFront, ChunkFrontCache};
pub use composed_circuit::{
    Block, BlockKind, CircuitGrads, CircuitInputs, CircuitRun, ComposedCircuit,
};
pub use dropout::Dropout;
pub use head::{ClassifierHead, HeadAct, HeadCache, OutputProj, OutputProjCache};
pub use linear::Linear;
pub use norm::{LayerNorm, NormCache, RmsNorm};
pub use positional::PositionalEncoding;
