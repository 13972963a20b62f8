//! Group 2 superposition models — 2d `QuantumMambaHydraSSM` (≡ `QuantumHydraSSM`) and 2e
//! `QuantumHydraHydraSSM` (≡ `QuantumHydraSSMBidirectional`), reference
//! `models/QuantumHydraSSM.py`; spec groups-2-4 §3.4–3.5, eval mode (dropout = identity):
//!
//! x (T, C) → per sample e_t = SiLU(LayerNorm(Linear(C→D)(x_t))) (`input_proj.0`,
//! `input_proj.1`; no look-ahead) → ChunkPool(32, D/4) (`chunk_attention`; the last chunk's zero
//! pad rows take part in the softmax with their constant score) ⇒ s (nc, D); per chunk
//! a = π·tanh(`encoding_proj`(s_j)), dt = σ(`dt_proj.2`(SiLU(`dt_proj.0`(s_j)))) and per core
//! Pf, Pb, Pd = `{prefix}forward_param_proj`, `{prefix}backward_param_proj`,
//! `{prefix}diagonal_param_proj`(s_j) (raw angles);
//! q_j = M(S3(E(a)·D²(Pf; dt), E(a)·Bk²(Pb; dt), E(a)·U²(Pd); α, β, γ)) — 2d: one core
//! (`quantum_core`), 2e: two (`fwd_*`/`quantum_core_fwd`, `bwd_*`/`quantum_core_bwd`; the
//! reference's chunk-order flip is a no-op), q_j = concat(q^fwd_j, q^bwd_j); then OP_k
//! (`output_proj`) per chunk → SeqPool (`seq_attention`) → H_silu (`classifier`). The three
//! branch circuits are compiled at load ([`super::composed_circuit`]); the S3 core is shared
//! with group 4 ([`super::s3_core`]).
//!
//! The streaming form (spec §4.3 R1; a window runs the model's shared description,
//! `qssm_models`): per sample the front-end row
//! and its chunk-attention score, pooled online (running max, softmax denominator, weighted
//! row sum); per completed chunk its circuits and `output_proj` row, pooled online over chunks
//! by `seq_attention`. State: the chunk pool (D + 2) and the sequence pool (D + 2). A stream of
//! a window's T samples closed with [`CausalStep::logits`] (pad rows of a partial last chunk,
//! head) equals the window forward to rounding.
//!
//! Without look-ahead, [`CausalStep::logits`] at t = 32(k+1) is the head over chunks 0..=k —
//! the trainer's `boundary_outputs` entry at min(32(k+1), T); at other t it is the window
//! forward on those t samples (the reference's pad rows).
use super::composed_circuit::{check_card, Angles, BlockSpec, Circuit, PI_F32};
use super::layers::{LayerNorm, Linear};
use super::online_pool::{pool_mean, pool_push, ChunkAttention, POOL_HEAD};
use super::s3_core::S3Core;
use super::seq_pool_head::SeqPoolHead;
use super::step::CausalStep;
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;
use qssm_kernels::ops::activation::{silu_forward, tanh_forward};

/// Chunk size of 2d/2e (constructor default, never passed by `create_model`).
pub(crate) const CHUNK_SIZE: usize = 32;

fn mismatch(what: String) -> EngineError {
    EngineError::Mismatch { what }
}

/// Loaded 2d / 2e.
#[derive(Clone, Debug)]
pub(crate) struct QuantumHydraSup {
    c: usize,
    d: usize,
    q: usize,
    /// angles per two-layer block, 5Q·L
    pb: usize,
    in0: Linear,
    in_ln: LayerNorm,
    /// `chunk_attention` and its pad-row score
    pool: ChunkAttention,
    enc: Linear,
    dt0: Linear,
    dt2: Linear,
    cores: Vec<S3Core<3>>,
    branches: [Circuit; 3],
    /// `output_proj`, `seq_attention`, `classifier`
    tail: SeqPoolHead,
    /// measurements per chunk (3Q per core)
    q_out: usize,
}

impl QuantumHydraSup {
    /// Checks the card (2 ≤ Q ≤ [`MAX_QUBITS`](super::statevec::MAX_QUBITS), D ≥ 4, N ≥ 1, a circuit layout if present that
    /// agrees: Q, layers, chunk size 32) and loads every tensor of model `id` (2d or 2e).
    pub(crate) fn load(
        id: &str,
        ld: &mut Loader<'_, '_>,
        card: &ModelCard,
    ) -> Result<Self, EngineError> {
        let hp = &card.hyperparameters;
        let (c, d, n) = (hp.n_channels, hp.d_model, hp.d_state);
        if n == 0 {
            return Err(mismatch(format!("{id} needs d_state ≥ 1 (dt MLP width)")));
        }
        let (q, layers, pb) = check_card(id, card, 3, CHUNK_SIZE)?;
        let in0 = Linear::load(ld, "input_proj.0", c, d, true)?;
        let in_ln = LayerNorm::load(ld, "input_proj.1", d)?;
        let pool = ChunkAttention::load(ld, d)?;
        let specs: &[(&str, &str)] = if id == "2e" {
            &[("quantum_core_fwd", "fwd_"), ("quantum_core_bwd", "bwd_")]
        } else {
            &[("quantum_core", "")]
        };
        let mut cores = Vec::with_capacity(specs.len());
        for &(core, prefix) in specs {
            let lin = |ld: &mut Loader<'_, '_>, b: &str| {
                Linear::load(ld, &format!("{prefix}{b}_param_proj"), d, pb, true)
            };
            let projs = [
                lin(ld, "forward")?,
                lin(ld, "backward")?,
                lin(ld, "diagonal")?,
            ];
            cores.push(S3Core::load(ld, core, projs)?);
        }
        // E(a)·D²(Pf; dt), E(a)·Bk²(Pb; dt), E(a)·U²(Pd)
        let branch =
            |at, backward, dt| Circuit::new(q, layers, vec![BlockSpec { at, backward, dt }], None);
        let branches = [
            branch(0, false, Some(0)),
            branch(pb, true, Some(0)),
            branch(2 * pb, false, None),
        ];
        let enc = Linear::load(ld, "encoding_proj", d, q, true)?;
        let dt0 = Linear::load(ld, "dt_proj.0", d, n, true)?;
        let dt2 = Linear::load(ld, "dt_proj.2", n, 1, true)?;
        let q_out = 3 * q * cores.len();
        let tail = SeqPoolHead::load(ld, q_out, d, hp.n_classes)?;
        Ok(Self {
            c,
            d,
            q,
            pb,
            in0,
            in_ln,
            pool,
            enc,
            dt0,
            dt2,
            cores,
            branches,
            tail,
            q_out,
        })
    }

    /// Floats of an attention score's scratch (hidden pre-activation, tanh, score).
    fn score_len(&self) -> usize {
        self.pool.score.work_len().max(self.tail.seq.work_len())
    }

    /// Floats of [`Self::chunk_feature`]'s scratch.
    fn feature_len(&self) -> usize {
        let (q, n) = (self.q, self.dt0.d_out());
        3 * self.pb
            + q.max(n)
            + n
            + q
            + 1
            + self.pb
            + 2 * q
            + self.q_out
            + 2 * self.d
            + S3Core::<3>::states_len(q)
    }

    /// Floats of [`Self::close_chunk`]'s scratch: s, f (2D), the feature's and the score's.
    fn close_len(&self) -> usize {
        2 * self.d + self.feature_len().max(self.score_len())
    }

    /// Scratch prefix: tmp, u, r (3D), hidden (2·(D/2)), chunk and sequence pool copies
    /// (2·(D + 2)).
    fn prefix_len(&self) -> usize {
        3 * self.d + 2 * self.tail.cls0.d_out() + 2 * (self.d + POOL_HEAD)
    }

    /// One chunk summary s (D) → its feature f (D): angle heads, circuits, measurements,
    /// `output_proj`. No allocation.
    fn chunk_feature(&self, s: &[f32], f: &mut [f32], work: &mut [f32]) {
        let (q, d, pb, n) = (self.q, self.d, self.pb, self.dt0.d_out());
        let (proj, rest) = work.split_at_mut(3 * pb);
        let (pre, rest) = rest.split_at_mut(q.max(n));
        let (h1, rest) = rest.split_at_mut(n);
        let (a, rest) = rest.split_at_mut(q);
        let (dts, rest) = rest.split_at_mut(1);
        let (theta, rest) = rest.split_at_mut(pb);
        let (enc, rest) = rest.split_at_mut(2 * q);
        let (qv, rest) = rest.split_at_mut(self.q_out);
        let (o0, rest) = rest.split_at_mut(d);
        let (o1, rest) = rest.split_at_mut(d);
        // a = π·tanh(encoding_proj(s))
        self.enc.apply_one(&mut pre[..q], s);
        tanh_forward(a, &pre[..q]);
        a.iter_mut().for_each(|v| *v *= PI_F32);
        // dt = σ(dt_proj.2(SiLU(dt_proj.0(s))))
        self.dt0.apply_one(&mut pre[..n], s);
        silu_forward(h1, &pre[..n]);
        self.dt2.apply_one(&mut pre[..1], h1);
        dts[0] = 1.0 / (1.0 + libm::expf(-pre[0]));
        let ang = Angles { a, dts, inj: &[] };
        for (core, out) in self.cores.iter().zip(qv.chunks_exact_mut(3 * q)) {
            core.measure(&self.branches, pb, s, &ang, proj, theta, enc, rest, out);
        }
        self.tail.feature(qv, o0, o1, &mut f[..d]);
    }

    /// Closes chunk `k` pooled in `cpool` (≥ 1 row): summary → feature → `seq_attention`
    /// score, pushed into `spool` at position k. No allocation.
    fn close_chunk(&self, cpool: &[f32], spool: &mut [f32], k: usize, work: &mut [f32]) {
        self.tail
            .close_chunk(cpool, spool, k, work, |s, f, w| self.chunk_feature(s, f, w));
    }
}

impl CausalStep for QuantumHydraSup {
    fn chunk(&self) -> usize {
        CHUNK_SIZE
    }

    /// Chunk pool and sequence pool (2·(D + 2)).
    fn state_len(&self) -> usize {
        2 * (self.d + POOL_HEAD)
    }

    fn scratch_len(&self) -> usize {
        self.prefix_len() + self.close_len()
    }

    fn step(&self, x: &[f32], t: u64, state: &mut [f32], scratch: &mut [f32]) {
        let d = self.d;
        let (cpool, spool) = state.split_at_mut(d + POOL_HEAD);
        let (tmp, rest) = scratch.split_at_mut(d);
        let (u, rest) = rest.split_at_mut(d);
        let work = &mut rest[self.prefix_len() - 2 * d..];
        // e_t = SiLU(LayerNorm(input_proj.0(x_t)))
        self.in0.apply_one(u, &x[..self.c]);
        self.in_ln.apply_one(tmp, u);
        silu_forward(u, tmp);
        let a = self.pool.score.score(u, work);
        let r = t as usize;
        pool_push(cpool, r % CHUNK_SIZE, a, Some(u), d);
        if r % CHUNK_SIZE == CHUNK_SIZE - 1 {
            self.close_chunk(cpool, spool, r / CHUNK_SIZE, work);
        }
    }

    /// The window forward on the t samples: a partial last chunk's pad rows and feature (on
    /// copies of the pools in scratch), the head.
    fn logits(&self, t: u64, state: &[f32], scratch: &mut [f32], logits: &mut [f32]) {
        let d = self.d;
        let (cpool, spool) = state.split_at(d + POOL_HEAD);
        let (_tmp, rest) = scratch.split_at_mut(d);
        let (_u, rest) = rest.split_at_mut(d);
        let (r, rest) = rest.split_at_mut(d);
        let (h, rest) = rest.split_at_mut(2 * self.tail.cls0.d_out());
        let (cp, rest) = rest.split_at_mut(d + POOL_HEAD);
        let (sp, work) = rest.split_at_mut(d + POOL_HEAD);
        let pos = (t as usize) % CHUNK_SIZE;
        if pos == 0 {
            pool_mean(spool, r, d);
        } else {
            cp.copy_from_slice(cpool);
            sp.copy_from_slice(spool);
            self.pool.pad(cp, pos, CHUNK_SIZE, d);
            self.close_chunk(cp, sp, (t as usize - 1) / CHUNK_SIZE, work);
            pool_mean(sp, r, d);
        }
        self.tail.head(r, h, logits);
    }
}
