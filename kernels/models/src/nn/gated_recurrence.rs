//! `ChunkedGatedSuperposition` written once over the backend (reference
//! `models/QuantumGatedRecurrence.py`; spec gated-and-protocols §1.5), the sequence mixer of the
//! gated models `mg` and `hg`:
//!
//! x (B, T, F) → q_t = QSB(x_t) (QGR-flavour [`Branches`], every time step at once) → per chunk
//! c = [cC, min((c+1)C, T)) (no padding: the last chunk is averaged over its true length)
//! μ_c = mean_t q_t → u_c = Dropout(SiLU(LN(W_a·μ_c + b_a))) (H, every chunk at once) → the
//! recurrence over chunks, batched over B: z = [h_{c−1}; u_c] (2H) →
//! a = [W_f; W_i; W_o; W_g]·z + b → h_c = o ⊙ tanh(f ⊙ h_{c−1} + i ⊙ g)
//! ([`Infer::gated_cell`]), h_0 = 0. Output h_{n_c} (B, H).
//!
//! State-dict names under `<prefix>`: `quantum_superposition.*`, `chunk_agg.0` (Linear(Q, H)),
//! `chunk_agg.1` (LayerNorm(H)), `{forget_gate,input_gate,output_gate,candidate}.0`
//! (Linear(2H, H)). Shape legend: B batch, T time, F features, H hidden, Q = 3n measured
//! features, n qubits, C chunk size.
use super::branches::{BranchActs, Branches};
use super::linear::Linear;
use super::output_proj::{OutputProj, OutputProjActs};
use crate::params::ParamLayout;
use crate::prelude::*;
use crate::{AnsatzKind, ModelConfig};
use qssm_kernels::backend::{Backend, DropoutCfg, Infer};
use qssm_kernels::circuit::Program;

/// The circuit of the gated models' QSB branches for `cfg` (spec §1.2): the unified 5-angle
/// ansatz without data encoding (K = 5·n·`n_layers`) or the legacy 4-angle ansatz
/// (K = 4·n·`n_layers`), on n = `cfg.n_qubits` wires.
pub fn gated_program(cfg: &ModelConfig) -> Program {
    match cfg.ansatz {
        AnsatzKind::Unified5 => Program::unified_ansatz(cfg.n_qubits, cfg.n_layers, false),
        AnsatzKind::Legacy4 => Program::legacy_ansatz(cfg.n_qubits, cfg.n_layers),
    }
}

/// Gate names in the order of the pre-activation columns `[a_f | a_i | a_o | a_g]`.
const GATES: [&str; 4] = ["forget_gate", "input_gate", "output_gate", "candidate"];

/// The chunked gated recurrence over input features of width F.
#[derive(Clone, Debug)]
pub struct GatedRecurrence {
    qsb: Branches,
    /// `chunk_agg`: μ_c → u_c (Linear(Q, H) → LayerNorm → SiLU → Dropout)
    agg: OutputProj,
    gates: [Linear; 4],
    q: usize,
    h: usize,
    chunk: usize,
}

/// Buffers of one chunk step (B, ·).
struct Step<B: Infer> {
    u: B::Buf,
    z: B::Buf,
    pres: [B::Buf; 4],
    pre: B::Buf,
    gates: B::Buf,
    tc: B::Buf,
    h: B::Buf,
}

/// Planned activations (and backward scratch) of a [`GatedRecurrence`] for (B, T).
pub struct GatedActs<B: Infer> {
    br: BranchActs<B>,
    mu: B::Buf,
    /// `chunk_agg`: its `o2` is u_c before the dropout, `out` after it (B, n_c, H)
    agg: OutputProjActs<B>,
    steps: Vec<Step<B>>,
    /// every h_c (B, n_c, H): the reference's `all_states`
    all_states: B::Buf,
    /// a prefix step's chunk mean as attention pooling ([`GatedRecurrence::step`] with a prefix):
    /// zero scores (B, T, 1) and the weights (B, T) (eval plans; empty in training plans)
    uniform: B::Buf,
    mean_wts: B::Buf,
    /// q_t of chunk 0 (B, len₀, Q) and its gates f, i, o, g (B, H) each (trace)
    q0: B::Buf,
    gates0: [B::Buf; 4],
    agg0: B::Buf,
    u0: B::Buf,
    // backward scratch
    dh: B::Buf,
    dh_prev: B::Buf,
    dpre: B::Buf,
    dpres: [B::Buf; 4],
    dz: B::Buf,
    dzh: B::Buf,
    duc: B::Buf,
    du: B::Buf,
    dmu: B::Buf,
    dq: B::Buf,
}

impl<B: Infer> GatedActs<B> {
    /// h_{n_c} (B, H), the block's output.
    pub fn h_final(&self) -> &B::Buf {
        &self.steps.last().expect("at least one chunk").h
    }
    /// every h_c (B, n_c, H), after [`GatedRecurrence::trace_views`].
    pub fn all_states(&self) -> &B::Buf {
        &self.all_states
    }
}

impl GatedRecurrence {
    /// Registers `<prefix>quantum_superposition.*`, `<prefix>chunk_agg.{0,1}` and the four
    /// gates for input width `f`, hidden size `h`, chunk size `chunk` (≥ 1), circuit `program`;
    /// `site` names the dropout site of u_c.
    pub fn new(
        lay: &mut ParamLayout,
        prefix: &str,
        (f, h, chunk): (usize, usize, usize),
        program: Program,
        site: u32,
    ) -> Self {
        assert!(chunk >= 1, "chunk_size must be ≥ 1");
        let qsb = Branches::qgr(lay, &format!("{prefix}quantum_superposition."), f, program);
        let q = qsb.out_dim();
        let agg = OutputProj::new(lay, &format!("{prefix}chunk_agg"), q, h, site);
        let gates = GATES.map(|g| Linear::new(lay, &format!("{prefix}{g}.0"), 2 * h, h, true));
        Self {
            qsb,
            agg,
            gates,
            q,
            h,
            chunk,
        }
    }

    /// Number of chunks ⌈T/C⌉.
    pub fn n_chunks(&self, t: usize) -> usize {
        t.div_ceil(self.chunk)
    }

    /// Chunk size C.
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// Buffers for (B, T).
    pub fn plan<B: Infer>(&self, be: &B, b: usize, t: usize) -> GatedActs<B> {
        self.plan_with(be, b, t, true)
    }

    /// [`Self::plan`] for the eval forward only ([`Self::step`] of a stream): no trace or
    /// backward buffers (those are empty).
    pub fn plan_eval<B: Infer>(&self, be: &B, b: usize, t: usize) -> GatedActs<B> {
        self.plan_with(be, b, t, false)
    }

    fn plan_with<B: Infer>(&self, be: &B, b: usize, t: usize, train: bool) -> GatedActs<B> {
        let (q, h) = (self.q, self.h);
        let nc = self.n_chunks(t).max(1);
        let v = |w: usize| be.alloc(&[b, w]);
        let sc = |w: usize| be.alloc(&[b, nc, w]);
        // a buffer only the trace or the backward reads
        let tr = |w: usize| be.alloc(&[b, if train { w } else { 0 }]);
        GatedActs {
            br: if train {
                self.qsb.plan(be, b, t)
            } else {
                self.qsb.plan_eval(be, b, t)
            },
            mu: sc(q),
            agg: if train {
                self.agg.plan(be, b, nc)
            } else {
                self.agg.plan_eval(be, b, nc)
            },
            steps: (0..nc)
                .map(|_| Step {
                    u: v(h),
                    z: v(2 * h),
                    pres: [0; 4].map(|_| v(h)),
                    pre: v(4 * h),
                    gates: v(4 * h),
                    tc: v(h),
                    h: v(h),
                })
                .collect(),
            all_states: be.alloc(&[b, nc, if train { h } else { 0 }]),
            uniform: be.alloc(&[b, if train { 0 } else { t }, 1]),
            mean_wts: be.alloc(&[b, if train { 0 } else { t }]),
            q0: be.alloc(&[b, self.chunk.min(t), if train { q } else { 0 }]),
            gates0: [0; 4].map(|_| tr(h)),
            agg0: tr(h),
            u0: tr(h),
            dh: tr(h),
            dh_prev: tr(h),
            dpre: tr(4 * h),
            dpres: [0; 4].map(|_| tr(h)),
            dz: tr(2 * h),
            // also h_0 = 0 of a forward from zeros (a stream's step starts from its state)
            dzh: tr(h),
            duc: tr(h),
            du: be.alloc(&[b, nc, if train { h } else { 0 }]),
            dmu: be.alloc(&[b, nc, if train { q } else { 0 }]),
            dq: be.alloc(&[b, t, if train { q } else { 0 }]),
        }
    }

    /// x (B, T, F) → `a.h_final()`; dropout on u_c when `drop` is given.
    pub fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        x: &B::Buf,
        a: &mut GatedActs<B>,
        drop: Option<DropoutCfg<'_>>,
    ) {
        self.run(be, p, x, a, drop, None, None);
    }

    /// Streaming form of [`Self::forward`] (eval mode): the next chunk x (B, C, F) (activations
    /// `a` planned for T = C) from the recurrent state `h` (B, H) (zeros at the start of a
    /// stream: h_0), which then holds h after the chunk. Chunks stepped in order give the
    /// forward's h_c.
    ///
    /// `prefix` Some(n): only the first n rows of the chunk count (1 ≤ n ≤ C, on a plan of the
    /// full chunk, [`Self::plan_eval`]; the other rows are ignored): the step of a chunk of n
    /// rows, its mean over those n (as uniform attention weights over the valid rows,
    /// [`Infer::chunk_pool`]: the mean to rounding).
    pub fn step<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        x: &B::Buf,
        h: &mut B::Buf,
        a: &mut GatedActs<B>,
        prefix: Option<usize>,
    ) {
        if let Some(n) = prefix {
            assert!(
                (1..=self.chunk).contains(&n) && be.numel(&a.uniform) > 0,
                "gated step: a prefix of {n} rows of a chunk of {} on an eval plan of one chunk",
                self.chunk
            );
        }
        self.run(be, p, x, a, None, Some(&*h), prefix);
        be.copy(h, a.h_final());
    }

    /// The forward from h_0 = `h0` (zeros if `None`); `prefix`: one chunk of which only the
    /// first rows count.
    #[allow(clippy::too_many_arguments)]
    fn run<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        x: &B::Buf,
        a: &mut GatedActs<B>,
        drop: Option<DropoutCfg<'_>>,
        h0: Option<&B::Buf>,
        prefix: Option<usize>,
    ) {
        self.qsb.forward(be, p, x, &mut a.br);
        match prefix {
            None => be.chunk_mean(&mut a.mu, &a.br.out, self.chunk),
            // equal (zero) scores: softmax weights 1/n over the first n rows, 0 after
            Some(n) => be.chunk_pool(&mut a.mu, &mut a.mean_wts, &a.br.out, &a.uniform, Some(n)),
        }
        self.agg.forward(be, p, &a.mu, &mut a.agg, drop);
        for c in 0..a.steps.len() {
            let (done, rest) = a.steps.split_at_mut(c);
            let s = &mut rest[0];
            let h_prev = done.last().map(|p| &p.h).or(h0);
            be.time_slice(&mut s.u, &a.agg.out, c);
            match h_prev {
                Some(hp) => be.concat_cols(&mut s.z, &[hp, &s.u]),
                None => {
                    // h_0 = 0 (the backward scratch dzh serves as the zero block)
                    be.fill(&mut a.dzh, 0.0);
                    be.concat_cols(&mut s.z, &[&a.dzh, &s.u]);
                }
            }
            for (lin, pre) in self.gates.iter().zip(s.pres.iter_mut()) {
                lin.forward(be, p, &s.z, pre);
            }
            let [pf, pi, po, pg] = &s.pres;
            be.concat_cols(&mut s.pre, &[pf, pi, po, pg]);
            be.gated_cell(&mut s.h, [&mut s.gates, &mut s.tc], &s.pre, h_prev);
        }
    }

    /// Backward through time from `dh_final` = d loss/d h_{n_c} (B, H): accumulates the
    /// parameter gradients into `g` and dx (B, T, F). `x` as in the forward.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        x: &B::Buf,
        a: &mut GatedActs<B>,
        dh_final: &B::Buf,
        dx: &mut B::Buf,
    ) {
        be.copy(&mut a.dh, dh_final);
        be.fill(&mut a.du, 0.0);
        for c in (0..a.steps.len()).rev() {
            let (done, rest) = a.steps.split_at(c);
            let s = &rest[0];
            let h_prev = done.last().map(|p| &p.h);
            be.fill(&mut a.dpre, 0.0);
            be.fill(&mut a.dh_prev, 0.0);
            be.gated_cell_bwd(
                &mut a.dpre,
                h_prev.is_some().then_some(&mut a.dh_prev),
                &a.dh,
                [&s.gates, &s.tc],
                h_prev,
            );
            {
                let [d0, d1, d2, d3] = &mut a.dpres;
                be.split_cols(&a.dpre, &mut [d0, d1, d2, d3]);
            }
            be.fill(&mut a.dz, 0.0);
            for (lin, dp) in self.gates.iter().zip(&a.dpres) {
                lin.backward(be, p, g, &s.z, dp, Some(&mut a.dz));
            }
            be.split_cols(&a.dz, &mut [&mut a.dzh, &mut a.duc]);
            be.time_slice_bwd(&mut a.du, &a.duc, c);
            be.add_assign(&mut a.dh_prev, &a.dzh);
            core::mem::swap(&mut a.dh, &mut a.dh_prev);
        }
        be.fill(&mut a.dmu, 0.0);
        self.agg
            .backward(be, p, g, &a.mu, &mut a.agg, &a.du, Some(&mut a.dmu));
        be.fill(&mut a.dq, 0.0);
        be.chunk_mean_bwd(&mut a.dq, &a.dmu, self.chunk);
        self.qsb.backward(be, p, g, x, &mut a.br, &a.dq, dx);
    }

    /// Fills the views that [`Self::trace`] and [`GatedActs::all_states`] report and a
    /// training step does not need: every h_c, and chunk 0's q_t, gates, u_0.
    pub fn trace_views<B: Infer>(&self, be: &B, a: &mut GatedActs<B>) {
        be.fill(&mut a.all_states, 0.0);
        for (c, s) in a.steps.iter().enumerate() {
            be.time_slice_bwd(&mut a.all_states, &s.h, c);
        }
        be.fill(&mut a.q0, 0.0);
        be.pad_time_bwd(&mut a.q0, &a.br.out);
        let [g0, g1, g2, g3] = &mut a.gates0;
        be.split_cols(&a.steps[0].gates, &mut [g0, g1, g2, g3]);
        be.time_slice(&mut a.agg0, a.agg.silu(), 0);
        be.time_slice(&mut a.u0, &a.agg.out, 0);
    }

    /// After [`Self::trace_views`]: eval-mode intermediates named like the reference's submodules under `name` (e.g.
    /// `gated_recurrence`), each recorded at its first call (chunk 0): `name` = h_{n_c} (H),
    /// `name.quantum_superposition` = q_t of chunk 0 (len₀, Q), `name.chunk_agg` and
    /// `name.dropout` = u_0 (H), `name.{forget_gate,input_gate,output_gate,candidate}` = f, i,
    /// o, g of chunk 0 (H); plus `name.all_states` = every h_c (n_c, H).
    pub fn trace<'a, B: Infer>(
        &self,
        name: &str,
        a: &'a GatedActs<B>,
    ) -> Vec<(String, &'a B::Buf)> {
        let mut out = vec![
            (name.to_string(), a.h_final()),
            (format!("{name}.quantum_superposition"), &a.q0),
            (format!("{name}.chunk_agg"), &a.agg0),
            (format!("{name}.dropout"), &a.u0),
        ];
        for (gname, buf) in GATES.iter().zip(&a.gates0) {
            out.push((format!("{name}.{gname}"), buf));
        }
        out.push((format!("{name}.all_states"), &a.all_states));
        out
    }

    /// The QSB branches (their trace names).
    pub fn branches(&self) -> &Branches {
        &self.qsb
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qssm_kernels::backend::cpu::{Cpu, CpuBuf};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn small_cfg(ansatz: AnsatzKind) -> ModelConfig {
        ModelConfig {
            n_channels: 5,
            n_times: 11,
            n_qubits: 3,
            n_layers: 2,
            hidden_dim: 6,
            chunk_size: 4,
            ansatz,
            ..ModelConfig::eeg(11)
        }
    }

    #[test]
    fn gated_program_follows_the_ansatz() {
        let p = gated_program(&small_cfg(AnsatzKind::Unified5));
        assert_eq!((p.n_theta, p.n_enc), (30, 0));
        let p = gated_program(&small_cfg(AnsatzKind::Legacy4));
        assert_eq!((p.n_theta, p.n_enc), (24, 0));
    }

    /// §1.11: h_c depends only on x[..end of chunk c] (the recurrence is causal chunk by
    /// chunk), and the last chunk is short (T = 11, C = 4: 4, 4, 3 steps, no padding).
    #[test]
    fn recurrence_is_causal_chunk_by_chunk() {
        let cfg = small_cfg(AnsatzKind::Unified5);
        let (f, t, h) = (cfg.n_channels, cfg.n_times, cfg.hidden_dim);
        let mut lay = ParamLayout::new();
        let cgs = GatedRecurrence::new(&mut lay, "", (f, h, 4), gated_program(&cfg), 0);
        assert_eq!(cgs.n_chunks(t), 3);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let p = lay.init(&mut rng);
        let x: Vec<f32> = (0..t * f).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let states = |x: &[f32]| {
            let mut a = cgs.plan(&Cpu, 1, t);
            let xb = CpuBuf::from_vec(x.to_vec(), &[1, t, f]);
            cgs.forward(&Cpu, &p, &xb, &mut a, None);
            cgs.trace_views(&Cpu, &mut a);
            a.all_states().as_slice().to_vec()
        };
        let s0 = states(&x);
        for change_at in [4usize, 8, 10] {
            let mut x2 = x.clone();
            x2[change_at * f] += 0.5;
            let s2 = states(&x2);
            let unchanged = change_at / 4; // chunks before the one holding `change_at`
            assert_eq!(s0[..unchanged * h], s2[..unchanged * h]);
            assert_ne!(s0[unchanged * h..], s2[unchanged * h..]);
        }
    }
}
