//! Blocks written once, batched and generic over the compute backend (forward and streaming
//! step over [`qssm_kernels::backend::Infer`], backward over
//! [`qssm_kernels::backend::Backend`]): every block registers its tensors in the model's
//! [`crate::params::ParamLayout`] (reference `state_dict` names), plans its activation
//! buffers for one (B, T) with `plan`, and runs `forward` / `backward` as backend ops on
//! (B, L, D) token-major buffers. Every model of [`crate::zoo`] is a composition of these
//! blocks ([`Net`]); a causal one also has its streaming form ([`StepNet`]).
pub mod angle_proj;
pub mod attention_pool;
pub mod branches;
pub mod chunk_front;
pub mod chunk_processor;
pub mod circuit_program;
pub mod conv_front_end;
pub mod gated_recurrence;
pub mod heads;
pub mod hydra;
pub mod hydra_bissm;
pub mod linear;
pub mod mamba;
pub mod net;
pub mod norm;
pub mod norm_pool;
pub mod output_proj;
pub mod positional;
pub mod proj;
pub mod qssm_core;
pub mod s3_core;
pub mod ssm;
pub mod step;
pub mod transformer;

pub use angle_proj::{AngleActs, AngleMap, AngleProj};
pub use attention_pool::{AttentionPool, PoolActs, SoftmaxPoolState};
pub use branches::{BranchActs, Branches};
pub use chunk_front::{ChunkFront, ChunkFrontActs};
pub use chunk_processor::{ChunkActs, ChunkProcessor};
pub use circuit_program::{composed_program, Block, BlockKind};
pub use conv_front_end::{ConvFrontEnd, FrontActs};
pub use gated_recurrence::{GatedActs, GatedRecurrence};
pub use heads::{ClassifierHead, HeadActs, SeqPoolActs, SeqPoolHead};
pub use hydra::{ClassicalHydraActs, ClassicalHydraBlock, ClassicalHydraGrads};
pub use hydra_bissm::{HydraActs, HydraBlock, HydraGrads};
pub use linear::Linear;
pub use mamba::{MambaActs, MambaBlock, MambaGrads, MambaState};
pub use net::{Io, Net};
pub use norm::{LayerNorm, LayerNormActs, RmsNorm, RmsNormActs, RowNorm};
pub use norm_pool::{NormMeanHead, NormMeanPool, NormMeanPoolActs};
pub use output_proj::{OutputProj, OutputProjActs};
pub use positional::PositionalEncoding;
pub use proj::{Proj, ProjKind, QProjOptions, QuantumInit};
pub use qssm_core::{QssmActs, QssmCore};
pub use s3_core::{S3Acts, S3Core};
pub use ssm::{SelectiveSsm, SsmActs, SsmGrads};
pub use step::{MambaStackState, StepNet};
pub use transformer::{
    StackActs, TransformerActs, TransformerBlock, TransformerGrads, TransformerStack,
};
