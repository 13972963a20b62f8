//! A whole model written once over any backend ([`Net`]): its planned buffers, forward,
//! backward and named intermediates, as backend operations on (B, L, D) token-major buffers.
//! The trainer runs a [`Net`] on a batch behind its host-facing model interface (`Batched`,
//! data-parallel shards on the CPU); the engine runs the same [`Net`] on one window.
use crate::params::ParamLayout;
use crate::prelude::*;
use crate::ModelConfig;
use qssm_kernels::backend::{Backend, DropoutCfg, Infer};

/// The buffers every model has: the input batch, the outputs and their gradient.
pub struct Io<B: Infer> {
    /// x (B, C, T) channel-major, as the windows come (EEG: millivolts)
    pub x: B::Buf,
    /// outputs (B, K): logits or regression values
    pub out: B::Buf,
    /// d loss / d outputs (B, K)
    pub dout: B::Buf,
}

impl<B: Infer> Io<B> {
    /// Plans the three buffers for batch `b`.
    pub fn plan(be: &B, b: usize, cfg: &ModelConfig) -> Self {
        Self {
            x: be.alloc(&[b, cfg.n_channels, cfg.n_times]),
            out: be.alloc(&[b, cfg.n_classes]),
            dout: be.alloc(&[b, cfg.n_classes]),
        }
    }
}

/// A model as a composition of backend-generic blocks.
pub trait Net: Send + Sync {
    /// Planned activation (and activation-gradient) buffers for one batch size.
    type Acts<B: Infer>: Send;
    /// Registry id (`3b`; the class name comes with it from the registry).
    fn id(&self) -> &'static str;
    /// Configuration.
    fn config(&self) -> &ModelConfig;
    /// Parameter layout.
    fn layout(&self) -> &ParamLayout;
    /// Whether the model is causal (its output after n samples depends only on those samples, so it can run step by step on a stream).
    fn is_causal(&self) -> bool {
        false
    }
    /// Architecture options for the card (the HQC Mamba's expand and quantum-projection flags; `None` for the zoo).
    fn architecture(&self) -> Option<qssm_formats::model_file::Architecture> {
        None
    }
    /// Allocates every buffer a step of batch `b` needs.
    fn plan<B: Infer>(&self, be: &B, b: usize) -> Self::Acts<B>;
    /// The input/output buffers inside `a`.
    fn io<B: Infer>(a: &mut Self::Acts<B>) -> &mut Io<B>;
    /// Forward of `io.x` into `io.out`; train mode (dropout) when `drop` is given.
    fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        a: &mut Self::Acts<B>,
        drop: Option<DropoutCfg<'_>>,
    );
    /// Backward from `io.dout`: accumulates d loss/d params into `g`.
    fn backward<B: Backend>(&self, be: &B, p: &B::Params, g: &mut B::Params, a: &mut Self::Acts<B>);
    /// Named eval-mode intermediates after a forward (`act.<name>` of the parity fixtures),
    /// each a (B, …) buffer; views that the training step does not need (a transposed copy)
    /// are computed here, on `be`.
    fn trace<'a, B: Infer>(&self, be: &B, a: &'a mut Self::Acts<B>) -> Vec<(String, &'a B::Buf)>;
    /// Eval-mode outputs at every chunk boundary of one window x (C, T) of a causal model
    /// (3b: after every sample; chunked models: after every completed chunk, the last possibly
    /// partial): element k is `(n_k, outputs)`, what a stream would emit having seen the first
    /// n_k samples. `None` for models that cannot stream.
    fn boundary_outputs(&self, _p: &[f32], _x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        None
    }
}
