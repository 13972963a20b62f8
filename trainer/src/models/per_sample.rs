//! The per-sample model interface of the models not yet written over the backend
//! ([`SampleModel`]), and [`PerSample`], which batches them for [`Model`]: samples run in
//! parallel (rayon), each into its own gradient buffer, summed in sample order, so results
//! are bit-identical whatever the number of threads. Transitional: every model moves to
//! [`super::nn::Net`] and this module goes away with the last one.
use super::{Model, ModelConfig, SampleOutput, StepOutput, Target};
use crate::params::ParamLayout;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::sync::Mutex;

/// A trainable model written for one sample at a time.
pub trait SampleModel: Send + Sync {
    /// Registry id, e.g. `1b`.
    fn id(&self) -> &'static str;
    /// Reference class name, e.g. `QuantumMambaSSM`.
    fn class_name(&self) -> &'static str;
    /// Its configuration.
    fn config(&self) -> &ModelConfig;
    /// Named tensors (reference `state_dict` names) in one flat buffer.
    fn layout(&self) -> &ParamLayout;
    /// Eval-mode forward of one window x (C, T) in millivolts → logits (n_classes).
    fn forward_eval(&self, p: &[f32], x: &[f32]) -> Vec<f32>;
    /// Train-mode forward and backward of one sample against `target`: dropout masks come
    /// from `rng` (`None` = no dropout), d loss/d params × `scale` is **accumulated** into `g`.
    fn forward_backward(
        &self,
        p: &[f32],
        x: &[f32],
        target: Target<'_>,
        scale: f32,
        rng: Option<&mut ChaCha8Rng>,
        g: &mut [f32],
    ) -> SampleOutput;
    /// See [`Model::is_causal`].
    fn is_causal(&self) -> bool {
        false
    }
    /// See [`Model::boundary_outputs`].
    fn boundary_outputs(&self, _p: &[f32], _x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        None
    }
    /// See [`Model::trace`].
    fn trace(&self, p: &[f32], x: &[f32]) -> Vec<(String, Vec<f32>)>;
}

/// A [`SampleModel`] batched over rayon, with reusable per-sample gradient buffers.
pub struct PerSample<M: SampleModel> {
    model: M,
    bufs: Mutex<Vec<Vec<f32>>>,
}

impl<M: SampleModel> PerSample<M> {
    /// Wraps `model`.
    pub fn new(model: M) -> Self {
        Self {
            model,
            bufs: Mutex::new(Vec::new()),
        }
    }
}

impl<M: SampleModel> Model for PerSample<M> {
    fn id(&self) -> &'static str {
        self.model.id()
    }
    fn class_name(&self) -> &'static str {
        self.model.class_name()
    }
    fn config(&self) -> &ModelConfig {
        self.model.config()
    }
    fn layout(&self) -> &ParamLayout {
        self.model.layout()
    }
    fn is_causal(&self) -> bool {
        self.model.is_causal()
    }
    fn forward_eval_batch(&self, p: &[f32], x: &[f32], b: usize) -> Vec<f32> {
        let n = x.len() / b.max(1);
        x.par_chunks(n.max(1))
            .map(|xi| self.model.forward_eval(p, xi))
            .collect::<Vec<_>>()
            .concat()
    }
    fn train_batch(
        &self,
        p: &[f32],
        x: &[f32],
        b: usize,
        targets: &[Target<'_>],
        dropout_seeds: Option<&[u64]>,
        grads: &mut [f32],
    ) -> StepOutput {
        assert_eq!(targets.len(), b, "one target per sample");
        let n = p.len();
        let w = x.len() / b.max(1);
        let mut bufs = self.bufs.lock().unwrap_or_else(|e| e.into_inner());
        if bufs.len() < b {
            bufs.resize_with(b, Vec::new);
        }
        let scale = 1.0 / b as f32;
        let outs: Vec<_> = bufs[..b]
            .par_iter_mut()
            .enumerate()
            .map(|(i, g)| {
                g.clear();
                g.resize(n, 0.0);
                let mut rng = dropout_seeds.map(|s| ChaCha8Rng::seed_from_u64(s[i]));
                let xi = &x[i * w..(i + 1) * w];
                self.model
                    .forward_backward(p, xi, targets[i], scale, rng.as_mut(), g)
            })
            .collect();
        grads.iter_mut().for_each(|v| *v = 0.0);
        for g in &bufs[..b] {
            grads.iter_mut().zip(g).for_each(|(a, v)| *a += v);
        }
        let loss = outs.iter().map(|o| o.loss).sum::<f32>() / b as f32;
        let logits = outs.into_iter().flat_map(|o| o.logits).collect();
        StepOutput { loss, logits }
    }
    fn boundary_outputs(&self, p: &[f32], x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        self.model.boundary_outputs(p, x)
    }
    fn trace(&self, p: &[f32], x: &[f32]) -> Vec<(String, Vec<f32>)> {
        self.model.trace(p, x)
    }
}
