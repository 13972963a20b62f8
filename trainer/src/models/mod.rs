//! The model zoo as the trainer sees it: the [`Model`] interface the training loop and tests
//! use, the blocks ([`nn`]) and models ([`zoo`]) written once in `qssm_models` (shared with
//! the engine), the paper models, and the [`registry`] of constructors.
//!
//! Input windows are (C, T) channel-major in **millivolts** (the reference's layout and
//! scale), batches (B, C, T); outputs are `n_classes` logits (or regression values) per window.
//! [`Model`] is the batched interface everything above the zoo uses; every model is written
//! once over the backend interface ([`nn::Net`]) and runs whole batches through backend ops
//! ([`nn::Batched`]).
pub mod config_check;
pub mod nn;
pub mod objective;
pub mod paper;
pub mod quantum_train;
pub mod registry;

pub use objective::Target;
/// The models of the reference study ([`qssm_models::zoo`], shared with the engine).
pub use qssm_models::zoo;
pub use qssm_models::{AnsatzKind, ModelConfig};

use crate::params::ParamLayout;

/// Result of a training step over a batch ([`Model::train_batch`]).
#[derive(Clone, Debug)]
pub struct StepOutput {
    /// mean loss (cross-entropy or MSE) over the batch
    pub loss: f32,
    /// outputs (B, n_classes), for the metrics
    pub logits: Vec<f32>,
}

/// A trainable model as the training loop, the CLI and the tests see it: a parameter layout
/// and batched passes over host buffers. Implemented by [`nn::Batched`] for every model
/// (each written once over the backend interface, [`nn::Net`]).
pub trait Model: Send + Sync {
    /// Registry id, e.g. `1b`.
    fn id(&self) -> &'static str;
    /// Reference class name, e.g. `QuantumMambaSSM`: the registry's
    /// ([`qssm_formats::registry`]) for [`Self::id`].
    fn class_name(&self) -> &'static str {
        qssm_formats::registry::by_id(self.id())
            .map(|m| m.class_name)
            .expect("every model's id is in the registry (tested for each constructor)")
    }
    /// Its configuration.
    fn config(&self) -> &ModelConfig;
    /// Named tensors (reference `state_dict` names) in one flat buffer.
    fn layout(&self) -> &ParamLayout;
    /// Eval-mode outputs of a batch: x (B, C, T) channel-major in millivolts → (B, n_classes).
    fn forward_eval_batch(&self, p: &[f32], x: &[f32], b: usize) -> Vec<f32>;
    /// One training step's passes over a batch x (B, C, T): mean loss (cross-entropy for
    /// classes, MSE for values; see [`objective`]) and d(mean loss)/d params written to `g`
    /// (overwritten). Dropout masks come from one seed per sample (`None` = no dropout), so
    /// results do not depend on the number of threads.
    fn train_batch(
        &self,
        p: &[f32],
        x: &[f32],
        b: usize,
        targets: &[Target<'_>],
        dropout_seeds: Option<&[u64]>,
        g: &mut [f32],
    ) -> StepOutput;
    /// Eval-mode logits of one window x (C, T).
    fn forward_eval(&self, p: &[f32], x: &[f32]) -> Vec<f32> {
        self.forward_eval_batch(p, x, 1)
    }
    /// Whether this model (in this configuration) is causal: its output after n samples
    /// depends only on those samples, so it can run step by step on a stream.
    fn is_causal(&self) -> bool {
        false
    }
    /// Architecture options the id and the hyperparameters do not fix, recorded in the model
    /// card (the HQC Mamba's expand and quantum-projection flags); `None` for the zoo.
    fn architecture(&self) -> Option<qssm_formats::model_file::Architecture> {
        None
    }
    /// Eval-mode outputs at every chunk boundary of a causal model (3b: after every sample;
    /// chunked models: after every completed chunk, the last possibly partial): element k is
    /// `(n_k, outputs)`: what a stream would emit having seen the first n_k samples, which
    /// depends on nothing later. `None` for models that cannot stream.
    fn boundary_outputs(&self, _p: &[f32], _x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        None
    }
    /// A [`TrainSession`] starting from `params` with the optimiser on the model's device;
    /// `None` where the model runs on the host (the caller then steps its host optimiser).
    fn device_session(
        &self,
        _params: &[f32],
        _opt: DeviceOptim,
    ) -> Option<Box<dyn TrainSession + '_>> {
        None
    }
    /// Named eval-mode intermediate outputs of one window, named like the reference's
    /// submodules (`act.<name>` in the parity fixtures), each flattened row-major.
    fn trace(&self, p: &[f32], x: &[f32]) -> Vec<(String, Vec<f32>)>;
}

/// Optimiser of a [`TrainSession`]: Adam/AdamW hyperparameters and gradient clipping.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceOptim {
    /// (β1, β2)
    pub betas: (f64, f64),
    /// ε
    pub eps: f64,
    /// weight decay
    pub weight_decay: f64,
    /// decoupled weight decay (AdamW) or the L2 form (Adam)
    pub decoupled: bool,
    /// clip the gradient to this global L2 norm first
    pub clip: Option<f32>,
}

impl DeviceOptim {
    /// AdamW (decoupled weight decay) with `c`'s betas, ε and weight decay.
    pub fn adamw(c: &crate::optim::AdamWConfig, clip: Option<f32>) -> Self {
        Self {
            betas: c.betas,
            eps: c.eps,
            weight_decay: c.weight_decay,
            decoupled: true,
            clip,
        }
    }
    /// Adam (L2 weight decay) with `c`'s betas, ε and weight decay.
    pub fn adam(c: &crate::optim::AdamConfig, clip: Option<f32>) -> Self {
        Self {
            betas: c.betas,
            eps: c.eps,
            weight_decay: c.weight_decay,
            decoupled: false,
            clip,
        }
    }
}

/// A training run whose parameters, gradients and optimiser moments stay on the model's
/// device (a GPU): each step uploads the batch and reads back the loss and the logits only.
pub trait TrainSession {
    /// One training step on x (B, C, T): forward, loss, backward, clip, optimiser step at
    /// learning rate `lr`. Dropout seeds as in [`Model::train_batch`].
    fn step(
        &mut self,
        x: &[f32],
        b: usize,
        targets: &[Target<'_>],
        dropout_seeds: Option<&[u64]>,
        lr: f64,
    ) -> StepOutput;
    /// The current parameters, on the host.
    fn params(&self) -> Vec<f32>;
    /// The optimiser's moments and step counts, on the host (for checkpoints; elements outside
    /// the trainable ranges have step 0).
    fn optim_state(&self) -> crate::optim::AdamState;
    /// Continues from a checkpointed optimiser state (moments, and the step count of the
    /// trainable elements).
    fn restore_optim(&mut self, state: &crate::optim::AdamState);
}
