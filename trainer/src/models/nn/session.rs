//! A training session of a [`Batched`] model on a device backend: parameters, gradients and
//! the Adam/AdamW moments stay in backend buffers; a step uploads the batch and reads back the
//! loss and the logits; the clip and the optimiser step run on the backend
//! ([`Backend::adam_step`]), so nothing else crosses to the host until [`TrainSession::params`].
use super::{Batched, Net, StepTargets};
use crate::models::{DeviceOptim, StepOutput, Target, TrainSession};
use crate::optim::{bias_scalars, AdamState};
use qssm_kernels::backend::{AdamBufs, Backend, DropoutCfg};
use qssm_kernels::ops::adam::AdamScalars;

/// See the module docs.
pub struct Session<'a, M: Net, B: Backend> {
    model: &'a Batched<M, B>,
    opt: DeviceOptim,
    p: B::ParamBuf,
    m: B::ParamBuf,
    v: B::ParamBuf,
    active: B::ParamBuf,
    /// optimiser steps taken (the bias corrections' t)
    t: u32,
}

impl<'a, M: Net, B: Backend> Session<'a, M, B> {
    /// A session starting from host `params`, zero moments, step 0.
    pub fn new(model: &'a Batched<M, B>, params: &[f32], opt: DeviceOptim) -> Self {
        let be = model.backend();
        let n = params.len();
        let mut active = vec![0.0f32; n];
        for r in model.net().layout().trainable_ranges() {
            active[r].fill(1.0);
        }
        let zeros = vec![0.0f32; n];
        Self {
            model,
            opt,
            p: be.params_from_host(params),
            m: be.params_from_host(&zeros),
            v: be.params_from_host(&zeros),
            active: be.params_from_host(&active),
            t: 0,
        }
    }
}

impl<M: Net, B: Backend> TrainSession for Session<'_, M, B> {
    fn step(
        &mut self,
        x: &[f32],
        b: usize,
        targets: &[Target<'_>],
        dropout_seeds: Option<&[u64]>,
        lr: f64,
    ) -> StepOutput {
        assert_eq!(targets.len(), b, "one target per sample");
        let (model, be, net) = (self.model, self.model.backend(), self.model.net());
        let t = StepTargets::new(targets);
        let k = net.config().n_classes;
        self.t += 1;
        let o = self.opt;
        let s = AdamScalars::new(
            lr,
            o.betas,
            o.eps,
            o.weight_decay,
            o.decoupled,
            bias_scalars(lr, o.betas, self.t),
        );
        let Self {
            p, m, v, active, ..
        } = self;
        model.with_plan(None, x, b, |pl, pb| {
            // padding samples: seed 0 and no target (zero loss gradient)
            let seeds: Option<Vec<u64>> = dropout_seeds.map(|s| {
                let mut v = s.to_vec();
                v.resize(pb, 0);
                v
            });
            let drop = seeds.as_deref().map(|seeds| DropoutCfg {
                p: net.config().dropout,
                seeds,
            });
            net.forward(be, p, &mut pl.acts, drop);
            let io = M::io(&mut pl.acts);
            let loss = be.loss(&mut io.dout, &io.out, t.as_targets());
            let logits = model.head(&io.out, b * k);
            be.zero_params(&mut pl.g);
            net.backward(be, p, &mut pl.g, &mut pl.acts);
            be.adam_step(
                AdamBufs {
                    p,
                    g: &mut pl.g,
                    m,
                    v,
                    active,
                },
                o.clip,
                &s,
            );
            StepOutput { loss, logits }
        })
    }
    fn params(&self) -> Vec<f32> {
        let mut h = vec![0.0; self.model.net().layout().len()];
        self.model.backend().params_download(&self.p, &mut h);
        h
    }
    fn optim_state(&self) -> AdamState {
        let (be, lay) = (self.model.backend(), self.model.net().layout());
        let n = lay.len();
        let mut st = AdamState::zeros(n);
        be.params_download(&self.m, &mut st.m);
        be.params_download(&self.v, &mut st.v);
        for r in lay.trainable_ranges() {
            st.step[r].fill(self.t);
        }
        st
    }
    fn restore_optim(&mut self, state: &AdamState) {
        let be = self.model.backend();
        be.params_upload(&mut self.m, &state.m);
        be.params_upload(&mut self.v, &state.v);
        self.t = state.step.iter().copied().max().unwrap_or(0);
    }
}
