//! Group 4 — 4a `QuantumTransformerE2E`, 4b `QuantumMambaE2E`, 4c `QuantumHydraE2E`
//! (reference `models/QuantumE2E.py`), 4d `QuantumMambaE2E_Superposition`, 4e
//! `QuantumHydraE2E_Superposition` (`models/QuantumE2E_Superposition.py`); spec groups-2-4
//! §3.6–3.11, eval mode (dropout = identity):
//!
//! x (T, C) → Conv3 (`input_conv`, `Conv1d(C→D, k=3, padding=1)`, a one-sample look-ahead,
//! zero padding at both window edges) → LayerNorm (`input_norm`) per sample → ChunkPool(16,
//! D/4) (`chunk_attention`; the last chunk's zero pad rows take part in the softmax with their
//! constant score) ⇒ s (nc, D); per chunk a = π·tanh(`encoding_proj`(s_j)), dt =
//! σ(`dt_proj`(s_j)) (4b/4d/4e: 1, 4c: 3 values), inj = π·tanh(`input_injection_proj`(s_j)) and
//!
//! * 4a: q_j = M(|0⟩ → E(a) → U²(P\[0:60\]) → U²(P\[60:120\])), P = `param_proj`(s_j);
//! * 4b: q_j = M(|0⟩ → E(a) → U²(F) → D²(Mx; dt) → E(dt·inj));
//! * 4c: q_j = M(|0⟩ → E(a) → U²(F) → D²(Pf; dt_f) → Bk²(Pb; dt_b) → D²(Pd; dt_d) → E(dt_f·inj))
//!   (`alpha`, `beta`, `gamma` are registered but unused: validated, not kept);
//! * 4d: q_j = M(S3(ψ₁, ψ₂, ψ₃; α, β, γ)) with base = E(a)·U²(F), ψ₁ = base·D²(Mf; dt)·E(dt·inj),
//!   ψ₂ = base·Bk²(Mb; dt)·E(dt·inj), ψ₃ = base·U²(Md) (`quantum_core.*`);
//! * 4e: the 4d core twice (`fwd_*`/`quantum_core_fwd`, `bwd_*`/`quantum_core_bwd`; the
//!   reference's chunk-order flip is a no-op), q_j = concat(q^fwd_j, q^bwd_j);
//!
//! then OP_k (`output_proj`: Linear(k→D) → LayerNorm → SiLU) per chunk → SeqPool
//! (`seq_attention`, softmax over the nc chunk features) → H_silu (`classifier`: Linear(D→D/2)
//! → SiLU → Linear(D/2→K)). Every circuit is compiled into a kernels
//! [`Program`](qssm_kernels::circuit::Program) at load ([`super::composed_circuit`]); 4d/4e's
//! S3 cores are [`super::s3_core`].
//!
//! One code path serves the window and the stream (spec §4.3 R1): per sample the Conv3 row of
//! the *previous* sample (it needs one sample of look-ahead) → LayerNorm → chunk-attention score,
//! pooled online (running max, softmax denominator, weighted row sum); per completed chunk its
//! circuits and `output_proj` row, pooled online over chunks by `seq_attention`. State: the
//! last two input samples (2C), the chunk pool (D + 2) and the sequence pool (D + 2). A window
//! runs the model's shared description (`qssm_models`); a stream of the window's T samples
//! closed with [`CausalStep::logits`] (last Conv3 row with x\[T\] = 0, pad rows, head) equals it
//! to rounding (tests/engine_stream_chunked.rs).
//!
//! Streaming predictions come at chunk boundaries: once sample 16(k+1) has arrived (t =
//! 16(k+1) + 1 samples seen), chunk k is complete and [`CausalStep::boundary_logits`] gives the
//! head over chunks 0..=k — the trainer's `boundary_outputs` n_k. [`CausalStep::logits`] at any
//! t is the window forward on those t samples (the reference's zero edge and pad rows).
use super::composed_circuit::{check_card, Angles, BlockSpec, Circuit, PI_F32};
use super::layers::{LayerNorm, Linear};
use super::online_pool::{pool_mean, pool_push, ChunkAttention, POOL_HEAD};
use super::s3_core::S3Core;
use super::seq_pool_head::SeqPoolHead;
use super::statevec::{self, MAX_QUBITS};
use super::step::CausalStep;
use crate::error::EngineError;
use crate::weights::{Loader, Matrix, MatrixView};
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;
use qssm_kernels::circuit::expvals_xyz;
use qssm_kernels::ops::activation::tanh_forward;
use qssm_kernels::ops::matvec::matvec;

/// Chunk size of the group-4 front-end (constructor default, never passed by `create_model`).
pub(crate) const CHUNK_SIZE: usize = 16;

/// The most dt values a model uses (4c).
const MAX_DT: usize = 3;

/// What maps a chunk summary to its measurements.
#[derive(Clone, Debug)]
enum Body {
    /// 4a/4b/4c: `param_proj` and one composed circuit
    Single {
        param_proj: Linear,
        circuit: Circuit,
    },
    /// 4d/4e: the S3 cores (one or two) sharing the three branch circuits
    Superposed {
        cores: Vec<S3Core<4>>,
        branches: [Circuit; 3],
    },
}

/// Loaded 4a–4e.
#[derive(Clone, Debug)]
pub(crate) struct QuantumE2e {
    c: usize,
    d: usize,
    q: usize,
    /// angles per two-layer block, 5Q·L
    pb: usize,
    conv_w: Matrix,
    conv_b: Vec<f32>,
    input_norm: LayerNorm,
    /// `chunk_attention` and its pad-row score
    pool: ChunkAttention,
    enc: Linear,
    dt: Option<Linear>,
    inj: Option<Linear>,
    body: Body,
    /// `output_proj`, `seq_attention`, `classifier`
    tail: SeqPoolHead,
    /// floats of the per-chunk projection buffer
    proj_len: usize,
    /// measurements per chunk (3Q per core)
    q_out: usize,
}

impl QuantumE2e {
    /// Checks the card (2 ≤ Q ≤ [`MAX_QUBITS`], D ≥ 4, a circuit layout if present that agrees:
    /// Q, layers, chunk size 16) and loads every tensor of model `id` (4a–4e).
    pub(crate) fn load(
        id: &str,
        ld: &mut Loader<'_, '_>,
        card: &ModelCard,
    ) -> Result<Self, EngineError> {
        let hp = &card.hyperparameters;
        let (c, d) = (hp.n_channels, hp.d_model);
        let (q, layers, pb) = check_card(id, card, 4, CHUNK_SIZE)?;
        if id == "4c" {
            for name in ["alpha", "beta", "gamma"] {
                ld.accept_unused(name, &[1])?;
            }
        }
        let conv_w = ld.take_matrix("input_conv.weight", &[d, c, 3])?;
        let conv_b = ld.take("input_conv.bias", &[d])?;
        let input_norm = LayerNorm::load(ld, "input_norm", d)?;
        let pool = ChunkAttention::load(ld, d)?;
        let blk = |at, backward, dt| BlockSpec { at, backward, dt };
        let (body, n_dt, inject, proj_len) = match id {
            "4a" | "4b" | "4c" => {
                let (blocks, n_dt, inject) = match id {
                    "4a" => (vec![blk(0, false, None), blk(pb, false, None)], 0, None),
                    "4b" => (
                        vec![blk(0, false, None), blk(pb, false, Some(0))],
                        1,
                        Some(0),
                    ),
                    _ => (
                        vec![
                            blk(0, false, None),
                            blk(pb, false, Some(0)),
                            blk(2 * pb, true, Some(1)),
                            blk(3 * pb, false, Some(2)),
                        ],
                        3,
                        Some(0),
                    ),
                };
                let kp = blocks.len() * pb;
                let param_proj = Linear::load(ld, "param_proj", d, kp, true)?;
                let circuit = Circuit::new(q, layers, blocks, inject);
                let body = Body::Single {
                    param_proj,
                    circuit,
                };
                (body, n_dt, inject, kp)
            }
            _ => {
                let specs: &[(&str, &str)] = if id == "4e" {
                    &[("quantum_core_fwd", "fwd_"), ("quantum_core_bwd", "bwd_")]
                } else {
                    &[("quantum_core", "")]
                };
                let mut cores = Vec::with_capacity(specs.len());
                for &(core, prefix) in specs {
                    let lin = |ld: &mut Loader<'_, '_>, n: &str| {
                        Linear::load(ld, &format!("{prefix}{n}"), d, pb, true)
                    };
                    let projs = [
                        lin(ld, "feature_param_proj")?,
                        lin(ld, "forward_mixing_param_proj")?,
                        lin(ld, "backward_mixing_param_proj")?,
                        lin(ld, "diagonal_mixing_param_proj")?,
                    ];
                    cores.push(S3Core::load(ld, core, projs)?);
                }
                let branch = |second: BlockSpec, inject| {
                    Circuit::new(q, layers, vec![blk(0, false, None), second], inject)
                };
                let branches = [
                    branch(blk(pb, false, Some(0)), Some(0)),
                    branch(blk(2 * pb, true, Some(0)), Some(0)),
                    branch(blk(3 * pb, false, None), None),
                ];
                (Body::Superposed { cores, branches }, 1, Some(0), 4 * pb)
            }
        };
        let enc = Linear::load(ld, "encoding_proj", d, q, true)?;
        let dt = if n_dt > 0 {
            Some(Linear::load(ld, "dt_proj", d, n_dt, true)?)
        } else {
            None
        };
        let inj = match inject {
            Some(_) => Some(Linear::load(ld, "input_injection_proj", d, q, true)?),
            None => None,
        };
        let q_out = match &body {
            Body::Single { .. } => 3 * q,
            Body::Superposed { cores, .. } => 3 * q * cores.len(),
        };
        let tail = SeqPoolHead::load(ld, q_out, d, hp.n_classes)?;
        Ok(Self {
            c,
            d,
            q,
            pb,
            conv_w,
            conv_b,
            input_norm,
            pool,
            enc,
            dt,
            inj,
            body,
            tail,
            proj_len,
            q_out,
        })
    }

    /// Floats of an attention score's scratch (hidden pre-activation, tanh, score).
    fn score_len(&self) -> usize {
        self.pool.score.work_len().max(self.tail.seq.work_len())
    }

    /// Circuit state vectors carved per chunk: 1 (4a–4c) or 3 branches + φ (4d/4e).
    fn n_states(&self) -> usize {
        match self.body {
            Body::Single { .. } => 1,
            Body::Superposed { .. } => 4,
        }
    }

    /// Floats of [`Self::chunk_feature`]'s scratch.
    fn feature_len(&self) -> usize {
        let q = self.q;
        let theta = 4 * self.pb;
        self.proj_len
            + q.max(MAX_DT)
            + q
            + MAX_DT
            + q
            + theta
            + 2 * q
            + self.q_out
            + 2 * self.d
            + self.n_states() * statevec::scratch_floats(1 << q)
    }

    /// Floats of [`Self::close_chunk`]'s scratch: s, f (2D), the feature's and the score's.
    fn close_len(&self) -> usize {
        2 * self.d + self.feature_len().max(self.score_len())
    }

    /// One chunk summary s (D) → its feature f (D): angle heads, circuits, measurements,
    /// `output_proj`. No allocation.
    fn chunk_feature(&self, s: &[f32], f: &mut [f32], work: &mut [f32]) {
        let (q, d, pb) = (self.q, self.d, self.pb);
        let (proj, rest) = work.split_at_mut(self.proj_len);
        let (pre, rest) = rest.split_at_mut(q.max(MAX_DT));
        let (a, rest) = rest.split_at_mut(q);
        let (dts, rest) = rest.split_at_mut(MAX_DT);
        let (inj, rest) = rest.split_at_mut(q);
        let (theta, rest) = rest.split_at_mut(4 * pb);
        let (enc, rest) = rest.split_at_mut(2 * q);
        let (qv, rest) = rest.split_at_mut(self.q_out);
        let (o0, rest) = rest.split_at_mut(d);
        let (o1, rest) = rest.split_at_mut(d);
        // a = π·tanh(encoding_proj(s))
        self.enc.apply_one(&mut pre[..q], s);
        tanh_forward(a, &pre[..q]);
        a.iter_mut().for_each(|v| *v *= PI_F32);
        if let Some(dt) = &self.dt {
            let n = dt.d_out();
            dt.apply_one(&mut pre[..n], s);
            dts[..n]
                .iter_mut()
                .zip(&pre[..n])
                .for_each(|(o, &x)| *o = 1.0 / (1.0 + libm::expf(-x)));
        }
        if let Some(lin) = &self.inj {
            lin.apply_one(&mut pre[..q], s);
            tanh_forward(inj, &pre[..q]);
            inj.iter_mut().for_each(|v| *v *= PI_F32);
        }
        let ang = Angles {
            a,
            dts,
            inj: &inj[..],
        };
        let n = 1usize << q;
        let sf = statevec::scratch_floats(n);
        let mut m = [0.0f64; 3 * MAX_QUBITS];
        let m = &mut m[..3 * q];
        match &self.body {
            Body::Single {
                param_proj,
                circuit,
            } => {
                param_proj.apply_one(proj, s);
                let psi = statevec::carve(&mut rest[..sf], n);
                circuit.run(pb, proj, &ang, theta, enc, psi);
                expvals_xyz(psi, q, m);
                qv.iter_mut()
                    .zip(m.iter())
                    .for_each(|(o, &v)| *o = v as f32);
            }
            Body::Superposed { cores, branches } => {
                for (core, out) in cores.iter().zip(qv.chunks_exact_mut(3 * q)) {
                    core.measure(branches, pb, s, &ang, proj, theta, enc, rest, out);
                }
            }
        }
        self.tail.feature(qv, o0, o1, &mut f[..d]);
    }

    /// Closes chunk `k` pooled in `cpool` (≥ 1 row): summary → feature → `seq_attention`
    /// score, pushed into `spool` at position k. No allocation.
    fn close_chunk(&self, cpool: &[f32], spool: &mut [f32], k: usize, work: &mut [f32]) {
        self.tail
            .close_chunk(cpool, spool, k, work, |s, f, w| self.chunk_feature(s, f, w));
    }

    /// The Conv3 row (D) of the sample whose neighbours are `prev`, `cur`, `next` (C each;
    /// `None` = zero), LayerNorm'd into `u`; `cols` (3C) and `tmp` (D) scratch.
    #[allow(clippy::too_many_arguments)]
    fn row(
        &self,
        prev: &[f32],
        cur: &[f32],
        next: Option<&[f32]>,
        cols: &mut [f32],
        tmp: &mut [f32],
        u: &mut [f32],
    ) {
        let c = self.c;
        for ci in 0..c {
            cols[3 * ci] = prev[ci];
            cols[3 * ci + 1] = cur[ci];
            cols[3 * ci + 2] = next.map_or(0.0, |x| x[ci]);
        }
        let (b, k, d) = (Some(&self.conv_b[..]), 3 * c, self.d);
        match self.conv_w.view() {
            MatrixView::F32(w) => matvec(tmp, w, cols, b, k, d),
            MatrixView::F16(w) => matvec(tmp, w, cols, b, k, d),
        }
        self.input_norm.apply_one(u, tmp);
    }

    /// Scratch prefix: cols (3C), tmp, u, r (3D), hidden (2·(D/2)), chunk and sequence pool
    /// copies (2·(D + 2)).
    fn prefix_len(&self) -> usize {
        3 * self.c + 3 * self.d + 2 * self.tail.cls0.d_out() + 2 * (self.d + POOL_HEAD)
    }
}

impl CausalStep for QuantumE2e {
    fn chunk(&self) -> usize {
        CHUNK_SIZE
    }

    /// Conv3 reads one sample ahead.
    fn lookahead(&self) -> usize {
        1
    }

    /// x[t−2], x[t−1] (2C), chunk pool and sequence pool (2·(D + 2)).
    fn state_len(&self) -> usize {
        2 * self.c + 2 * (self.d + POOL_HEAD)
    }

    fn scratch_len(&self) -> usize {
        self.prefix_len() + self.close_len()
    }

    fn step(&self, x: &[f32], t: u64, state: &mut [f32], scratch: &mut [f32]) {
        let (c, d) = (self.c, self.d);
        let (hist, pools) = state.split_at_mut(2 * c);
        let (cpool, spool) = pools.split_at_mut(d + POOL_HEAD);
        if t >= 1 {
            // the Conv3 row of sample r = t − 1, now that its right neighbour x arrived
            let r = (t - 1) as usize;
            let (cols, rest) = scratch.split_at_mut(3 * c);
            let (tmp, rest) = rest.split_at_mut(d);
            let (u, rest) = rest.split_at_mut(d);
            let work = &mut rest[self.prefix_len() - 3 * c - 2 * d..];
            let (prev, cur) = hist.split_at(c);
            self.row(prev, cur, Some(x), cols, tmp, u);
            let a = self.pool.score.score(u, work);
            pool_push(cpool, r % CHUNK_SIZE, a, Some(u), d);
            if r % CHUNK_SIZE == CHUNK_SIZE - 1 {
                self.close_chunk(cpool, spool, r / CHUNK_SIZE, work);
            }
        }
        hist.copy_within(c.., 0);
        hist[c..].copy_from_slice(&x[..c]);
    }

    /// The window forward on the t samples: the last Conv3 row with x\[t\] = 0, the last chunk's
    /// pad rows, its feature, the head — all on copies of the pools in scratch.
    fn logits(&self, t: u64, state: &[f32], scratch: &mut [f32], logits: &mut [f32]) {
        let (c, d) = (self.c, self.d);
        let (hist, pools) = state.split_at(2 * c);
        let (cpool, spool) = pools.split_at(d + POOL_HEAD);
        let (cols, rest) = scratch.split_at_mut(3 * c);
        let (tmp, rest) = rest.split_at_mut(d);
        let (u, rest) = rest.split_at_mut(d);
        let (r, rest) = rest.split_at_mut(d);
        let (h, rest) = rest.split_at_mut(2 * self.tail.cls0.d_out());
        let (cp, rest) = rest.split_at_mut(d + POOL_HEAD);
        let (sp, work) = rest.split_at_mut(d + POOL_HEAD);
        let last = t.saturating_sub(1) as usize;
        let (prev, cur) = hist.split_at(c);
        self.row(prev, cur, None, cols, tmp, u);
        let a = self.pool.score.score(u, work);
        cp.copy_from_slice(cpool);
        sp.copy_from_slice(spool);
        let pos = last % CHUNK_SIZE;
        pool_push(cp, pos, a, Some(u), d);
        self.pool.pad(cp, pos + 1, CHUNK_SIZE, d);
        self.close_chunk(cp, sp, last / CHUNK_SIZE, work);
        pool_mean(sp, r, d);
        self.tail.head(r, h, logits);
    }

    /// At t = 16(k+1) + 1 (chunk k complete): the head over chunks 0..=k; elsewhere
    /// [`Self::logits`].
    fn boundary_logits(&self, t: u64, state: &[f32], scratch: &mut [f32], logits: &mut [f32]) {
        let cs = CHUNK_SIZE as u64;
        if t <= cs || !(t - 1).is_multiple_of(cs) {
            return CausalStep::logits(self, t, state, scratch, logits);
        }
        let (c, d) = (self.c, self.d);
        let spool = &state[2 * c + d + POOL_HEAD..];
        let (r, h) = scratch.split_at_mut(d);
        pool_mean(spool, r, d);
        self.tail
            .head(r, &mut h[..2 * self.tail.cls0.d_out()], logits);
    }
}
