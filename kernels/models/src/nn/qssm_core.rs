//! `QuantumSSMCore` of 2b and 2c written once over the backend (spec groups-2-4 §3.2
//! "QSSM(z, h₀)", reference `models/QuantumMixingSSM.py`): a recurrence over the nc chunk
//! summaries whose state is Q RY angles and whose transition is one circuit evaluation per
//! chunk, run for a whole batch at once (one [`Infer::circuit`] over the B samples per step).
//!
//! For chunk j (z_j ∈ ℝ^D, every map per row, all rows of the batch in one op):
//! * p_j = `x_proj`(z_j) ∈ ℝ^{r+2N} (no bias, r = ⌈D/16⌉); only δ_j = p_j\[0:r\] is used (the
//!   reference computes the "B" and "C" slices and drops them: those rows get zero gradient);
//! * Δ_j = softplus(`dt_proj`(δ_j)) ∈ ℝ^D; ds_j = σ(mean_k Δ_jk) ∈ (0.5, 1) ([`Infer::row_mean`]);
//! * u_j = π·tanh(`quantum_input_proj`(z_j)) ∈ ℝ^Q;
//! * sequentially q_j = M(|0⟩ → E(h_{j−1}) → D²(P; ds_j) → E(ds_j·u_j)) ∈ ℝ^{3Q},
//!   P = `circuit_params` (5Q·L, shared by every step and sample), h_j = π·tanh(q_j\[2Q:3Q\])
//!   (the ⟨Z⟩ block);
//! * y'_j = `quantum_output_proj`(q_j) + `D` ⊙ z_j; y = `out_proj`(y').
//!
//! Input z (B, L, D) and h₀ (B, Q) (zeros when not given) → y (B, L, D) and h_{L−1} (B, Q).
//! The backward is backpropagation through time: the embedding angles of step j are
//! h_{j−1}, so the adjoint gradient w.r.t. those encodings flows into step j−1's ⟨Z⟩
//! measurements, and past step 0 into h₀ (2b hands h₀ of layer 1 to layer 0's last step).
//! The recurrence is chaotic (spec §5.1): tiny float differences grow with L.
//!
//! Registration order (= state_dict order: direct parameters first): `circuit_params` (5Q·L,
//! 0.1·N(0,1)), `D` (D, ones), `x_proj.weight` (r+2N, D), `dt_proj.{weight,bias}` (D, r),(D)
//! (bias = softplus⁻¹ of log-uniform dt ∈ [0.001, 0.1]), `quantum_input_proj.*` (Q, D),(Q),
//! `quantum_output_proj.*` (D, 3Q),(D), `out_proj.*` (D, D),(D).
use super::circuit_program::{composed_program, Block, BlockKind};
use super::linear::Linear;
use crate::params::{default_uniform, Init, ParamLayout};
use crate::prelude::*;
use core::ops::Range;
use qssm_kernels::backend::cpu::Cpu;
use qssm_kernels::backend::{circuit_state_words, Act, Backend, Infer, Segment};
use qssm_kernels::circuit::Program;

const PI_F32: f32 = core::f32::consts::PI;

/// One `QuantumSSMCore` (see the module docs).
#[derive(Clone, Debug)]
pub struct QssmCore {
    circuit_params: Range<usize>,
    d_skip: Range<usize>,
    x_proj: Linear,
    dt_proj: Linear,
    in_proj: Linear,
    out_q: Linear,
    out_proj: Linear,
    program: Program,
    /// the Δ-modulation of the circuit angles by ds
    theta_seg: [Segment; 1],
    /// the injection angles scaled by ds
    inj_seg: [Segment; 1],
    d: usize,
    q: usize,
    r: usize,
    n: usize,
}

/// Planned activations (and backward scratch) of a [`QssmCore`] for (B, L).
pub struct QssmActs<B: Infer> {
    l: usize,
    /// x_proj(z) (B, L, r+2N), its δ = \[0:r\] and unused \[r:r+2N\] columns
    xp: B::Buf,
    dtr: B::Buf,
    bc: B::Buf,
    /// dt_proj(δ) (B, L, D), Δ = softplus of it
    dtp: B::Buf,
    delta: B::Buf,
    /// mean_k Δ (B, L, 1) and ds = σ of it
    dsm: B::Buf,
    ds: B::Buf,
    /// quantum_input_proj(z), tanh of it, u = π·tanh, ds·u (B, L, Q)
    pre: B::Buf,
    uq: B::Buf,
    u: B::Buf,
    inj: B::Buf,
    /// `circuit_params` on every row, and θ = the Δ-modulated rows (B, L, K)
    cp_rows: B::Buf,
    theta: B::Buf,
    /// per step j: encodings \[h_{j−1} | ds_j·u_j\] (B, 2Q), final states, tanh(⟨Z⟩_j) and
    /// h_j = π·tanh(⟨Z⟩_j) (B, Q)
    enc: Vec<B::Buf>,
    states: Vec<B::Buf>,
    th: Vec<B::Buf>,
    h: Vec<B::Buf>,
    /// measurements q (B, L, 3Q)
    q: B::Buf,
    /// `D` on every row (B, L, D), y' (B, L, D)
    d_rows: B::Buf,
    yp: B::Buf,
    /// the core's output y (B, L, D)
    pub y: B::Buf,
    /// d loss/d h₀ (B, Q) after [`QssmCore::backward`]
    pub dh0: B::Buf,
    // step scratch
    h_zero: B::Buf,
    theta_j: B::Buf,
    m_j: B::Buf,
    m_xy: B::Buf,
    m_z: B::Buf,
    // backward scratch
    dyp: B::Buf,
    dprod: B::Buf,
    dq: B::Buf,
    dtheta: B::Buf,
    dinj: B::Buf,
    dtheta_j: B::Buf,
    denc_j: B::Buf,
    dinj_j: B::Buf,
    dth: B::Buf,
    dm_z: B::Buf,
    dm_full: B::Buf,
    zeros_xy: B::Buf,
    dcp_rows: B::Buf,
    dds: B::Buf,
    du: B::Buf,
    dpre: B::Buf,
    ddsm: B::Buf,
    ddelta: B::Buf,
    ddtp: B::Buf,
    ddtr: B::Buf,
    zeros_bc: B::Buf,
    dxp: B::Buf,
}

impl QssmCore {
    /// Registers the core's tensors under `<name>.` (see the module docs): width D = `d`,
    /// N = `d_state` (sizes only the unused rows of `x_proj`), Q = `n_qubits`, L = `n_layers`
    /// circuit layers.
    pub fn new(
        lay: &mut ParamLayout,
        name: &str,
        (d, d_state): (usize, usize),
        n_qubits: usize,
        n_layers: usize,
    ) -> Self {
        let q = n_qubits;
        let r = (d / 16).max(1); // dt_rank = d_model // 16
        let circuit_params = lay.add(
            format!("{name}.circuit_params"),
            &[5 * q * n_layers],
            Init::Normal(0.1),
        );
        let d_skip = lay.add(format!("{name}.D"), &[d], Init::Const(1.0));
        let x_proj = Linear::new(lay, &format!("{name}.x_proj"), d, r + 2 * d_state, false);
        let dt_proj = Linear::with_init(
            lay,
            &format!("{name}.dt_proj"),
            r,
            d,
            true,
            default_uniform(r),
            Init::DtBias { floor: 0.0 },
        );
        let in_proj = Linear::new(lay, &format!("{name}.quantum_input_proj"), d, q, true);
        let out_q = Linear::new(lay, &format!("{name}.quantum_output_proj"), 3 * q, d, true);
        let out_proj = Linear::new(lay, &format!("{name}.out_proj"), d, d, true);
        let block = Block {
            kind: BlockKind::Unified,
            dt: Some(0),
        };
        let program = composed_program(q, n_layers, true, &[block], true);
        Self {
            circuit_params,
            d_skip,
            x_proj,
            dt_proj,
            in_proj,
            out_q,
            out_proj,
            theta_seg: [Segment {
                width: program.n_theta,
                period: 5 * q,
                prefix: 3 * q,
                scale: Some(0),
            }],
            inj_seg: [Segment {
                width: q,
                period: q,
                prefix: q,
                scale: Some(0),
            }],
            program,
            d,
            q,
            r,
            n: d_state,
        }
    }

    /// Buffers for (B, L).
    pub fn plan<B: Infer>(&self, be: &B, b: usize, l: usize) -> QssmActs<B> {
        let (d, q, r, n) = (self.d, self.q, self.r, self.n);
        let k = self.program.n_theta;
        let s = |w: usize| be.alloc(&[b, l, w]);
        let v = |w: usize| be.alloc(&[b, w]);
        let steps = |w: usize| (0..l).map(|_| v(w)).collect::<Vec<_>>();
        QssmActs {
            l,
            xp: s(r + 2 * n),
            dtr: s(r),
            bc: s(2 * n),
            dtp: s(d),
            delta: s(d),
            dsm: s(1),
            ds: s(1),
            pre: s(q),
            uq: s(q),
            u: s(q),
            inj: s(q),
            cp_rows: s(k),
            theta: s(k),
            enc: steps(2 * q),
            states: steps(circuit_state_words(q)),
            th: steps(q),
            h: steps(q),
            q: s(3 * q),
            d_rows: s(d),
            yp: s(d),
            y: s(d),
            dh0: v(q),
            h_zero: v(q),
            theta_j: v(k),
            m_j: v(3 * q),
            m_xy: v(2 * q),
            m_z: v(q),
            dyp: s(d),
            dprod: s(d),
            dq: s(3 * q),
            dtheta: s(k),
            dinj: s(q),
            dtheta_j: v(k),
            denc_j: v(2 * q),
            dinj_j: v(q),
            dth: v(q),
            dm_z: v(q),
            dm_full: v(3 * q),
            zeros_xy: v(2 * q),
            dcp_rows: s(k),
            dds: s(1),
            du: s(q),
            dpre: s(q),
            ddsm: s(1),
            ddelta: s(d),
            ddtp: s(d),
            ddtr: s(r),
            zeros_bc: s(2 * n),
            dxp: s(r + 2 * n),
        }
    }

    /// The final state h_{L−1} (B, Q) after a forward.
    pub fn h_final<'a, B: Infer>(&self, a: &'a QssmActs<B>) -> &'a B::Buf {
        &a.h[a.l - 1]
    }

    /// z (B, L, D), h₀ (B, Q) (`None`: zeros) → `a.y` (B, L, D).
    pub fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        z: &B::Buf,
        h0: Option<&B::Buf>,
        a: &mut QssmActs<B>,
    ) {
        // ds = σ(mean softplus(dt_proj(x_proj(z)[:, 0:r])))
        self.x_proj.forward(be, p, z, &mut a.xp);
        be.split_cols(&a.xp, &mut [&mut a.dtr, &mut a.bc]);
        self.dt_proj.forward(be, p, &a.dtr, &mut a.dtp);
        be.act(Act::Softplus, &mut a.delta, &a.dtp);
        be.row_mean(&mut a.dsm, &a.delta);
        be.act(Act::Sigmoid, &mut a.ds, &a.dsm);
        // u = π·tanh(quantum_input_proj(z)), injected as ds·u
        self.in_proj.forward(be, p, z, &mut a.pre);
        be.act(Act::Tanh, &mut a.uq, &a.pre);
        be.scale(&mut a.u, &a.uq, PI_F32);
        be.scale_segments(&mut a.inj, &a.u, &a.ds, &self.inj_seg);
        // θ_j = circuit_params with the rotation angles scaled by ds_j
        be.fill(&mut a.cp_rows, 0.0);
        be.add_param_row(&mut a.cp_rows, p, self.circuit_params.clone());
        be.scale_segments(&mut a.theta, &a.cp_rows, &a.ds, &self.theta_seg);
        // the recurrence, one circuit per sample and step
        be.fill(&mut a.q, 0.0);
        be.fill(&mut a.h_zero, 0.0);
        for j in 0..a.l {
            be.time_slice(&mut a.m_z, &a.inj, j); // m_z: ds_j·u_j for now
            {
                let h_prev = match j {
                    0 => h0.unwrap_or(&a.h_zero),
                    _ => &a.h[j - 1],
                };
                be.concat_cols(&mut a.enc[j], &[h_prev, &a.m_z]);
            }
            be.time_slice(&mut a.theta_j, &a.theta, j);
            be.circuit(
                &mut a.m_j,
                Some(&mut a.states[j]),
                &a.theta_j,
                Some(&a.enc[j]),
                &self.program,
            );
            be.time_slice_bwd(&mut a.q, &a.m_j, j);
            be.split_cols(&a.m_j, &mut [&mut a.m_xy, &mut a.m_z]);
            be.act(Act::Tanh, &mut a.th[j], &a.m_z);
            be.scale(&mut a.h[j], &a.th[j], PI_F32);
        }
        // y = out_proj(quantum_output_proj(q) + D ⊙ z)
        self.out_q.forward(be, p, &a.q, &mut a.yp);
        be.fill(&mut a.d_rows, 0.0);
        be.add_param_row(&mut a.d_rows, p, self.d_skip.clone());
        be.mul_acc(&mut a.yp, &a.d_rows, z);
        self.out_proj.forward(be, p, &a.yp, &mut a.y);
    }

    /// Backward from dy (B, L, D) and d loss/d h_{L−1} (B, Q; `None` where the final state
    /// is unused): accumulates parameter gradients into `g` and dz (B, L, D); d loss/d h₀
    /// lands in `a.dh0`.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        z: &B::Buf,
        a: &mut QssmActs<B>,
        dy: &B::Buf,
        dh_final: Option<&B::Buf>,
        dz: &mut B::Buf,
    ) {
        be.fill(&mut a.dyp, 0.0);
        self.out_proj
            .backward(be, p, g, &a.yp, dy, Some(&mut a.dyp));
        // y' = out_q(q) + D ⊙ z
        be.mul_acc(dz, &a.d_rows, &a.dyp);
        be.mul(&mut a.dprod, &a.dyp, z);
        be.add_param_row_bwd(g, self.d_skip.clone(), &a.dprod);
        be.fill(&mut a.dq, 0.0);
        self.out_q.backward(be, p, g, &a.q, &a.dyp, Some(&mut a.dq));

        // backpropagation through time over the circuit steps; dh0 carries d loss/d h_j
        match dh_final {
            Some(dh) => be.copy(&mut a.dh0, dh),
            None => be.fill(&mut a.dh0, 0.0),
        }
        be.fill(&mut a.zeros_xy, 0.0);
        be.fill(&mut a.dtheta, 0.0);
        be.fill(&mut a.dinj, 0.0);
        for j in (0..a.l).rev() {
            // dq_j += d h_j/d ⟨Z⟩_j · dh (h_j = π·tanh(⟨Z⟩_j))
            be.scale(&mut a.dth, &a.dh0, PI_F32);
            be.fill(&mut a.dm_z, 0.0);
            be.act_bwd(Act::Tanh, &mut a.dm_z, &a.dth, &a.th[j]);
            be.concat_cols(&mut a.dm_full, &[&a.zeros_xy, &a.dm_z]);
            be.time_slice(&mut a.m_j, &a.dq, j); // m_j: dq_j
            be.add_assign(&mut a.m_j, &a.dm_full);
            be.time_slice(&mut a.theta_j, &a.theta, j);
            be.fill(&mut a.dtheta_j, 0.0);
            be.fill(&mut a.denc_j, 0.0);
            be.circuit_bwd(
                &mut a.dtheta_j,
                Some(&mut a.denc_j),
                &a.m_j,
                Some(&a.states[j]),
                &a.theta_j,
                Some(&a.enc[j]),
                &self.program,
            );
            // encodings [h_{j−1} | ds_j·u_j]: dh0 ← d loss/d h_{j−1}
            be.split_cols(&a.denc_j, &mut [&mut a.dh0, &mut a.dinj_j]);
            be.time_slice_bwd(&mut a.dinj, &a.dinj_j, j);
            be.time_slice_bwd(&mut a.dtheta, &a.dtheta_j, j);
        }
        // θ = ds-scaled circuit_params rows; inj = ds·u
        be.fill(&mut a.dcp_rows, 0.0);
        be.fill(&mut a.dds, 0.0);
        be.scale_segments_bwd(
            &mut a.dcp_rows,
            &mut a.dds,
            &a.dtheta,
            &a.cp_rows,
            &a.ds,
            &self.theta_seg,
        );
        be.add_param_row_bwd(g, self.circuit_params.clone(), &a.dcp_rows);
        be.fill(&mut a.du, 0.0);
        be.scale_segments_bwd(&mut a.du, &mut a.dds, &a.dinj, &a.u, &a.ds, &self.inj_seg);
        // u = π·tanh(quantum_input_proj(z)): du ← π·du in place via dpre
        be.scale(&mut a.dpre, &a.du, PI_F32);
        be.fill(&mut a.du, 0.0);
        be.act_bwd(Act::Tanh, &mut a.du, &a.dpre, &a.uq);
        self.in_proj.backward(be, p, g, z, &a.du, Some(dz));
        // ds = σ(mean softplus(dt_proj(δ)))
        be.fill(&mut a.ddsm, 0.0);
        be.act_bwd(Act::Sigmoid, &mut a.ddsm, &a.dds, &a.ds);
        be.fill(&mut a.ddelta, 0.0);
        be.row_mean_bwd(&mut a.ddelta, &a.ddsm);
        be.fill(&mut a.ddtp, 0.0);
        be.act_bwd(Act::Softplus, &mut a.ddtp, &a.ddelta, &a.dtp);
        be.fill(&mut a.ddtr, 0.0);
        self.dt_proj
            .backward(be, p, g, &a.dtr, &a.ddtp, Some(&mut a.ddtr));
        be.fill(&mut a.zeros_bc, 0.0);
        be.concat_cols(&mut a.dxp, &[&a.ddtr, &a.zeros_bc]);
        self.x_proj.backward(be, p, g, z, &a.dxp, Some(dz));
    }

    /// One circuit step q = M(|0⟩ → E(h) → D²(P; ds) → E(ds·u)) (3Q) on the CPU backend, with
    /// the ops of [`Self::forward`] — the reference's `qnode(h, u, ds, circuit_params)`
    /// (teacher-forced checks, spec §6).
    pub fn circuit_step(&self, p: &[f32], h: &[f32], ds: f32, u: &[f32]) -> Vec<f32> {
        let (q, k) = (self.q, self.program.n_theta);
        let buf = |v: &[f32]| {
            let mut b = Cpu.alloc(&[1, v.len()]);
            Cpu.upload(&mut b, v);
            b
        };
        let (h, u, ds) = (buf(&h[..q]), buf(&u[..q]), buf(&[ds]));
        let mut inj = Cpu.alloc(&[1, q]);
        Cpu.scale_segments(&mut inj, &u, &ds, &self.inj_seg);
        let mut enc = Cpu.alloc(&[1, 2 * q]);
        Cpu.concat_cols(&mut enc, &[&h, &inj]);
        let mut rows = Cpu.alloc(&[1, k]);
        Cpu.add_param_row(&mut rows, p, self.circuit_params.clone());
        let mut theta = Cpu.alloc(&[1, k]);
        Cpu.scale_segments(&mut theta, &rows, &ds, &self.theta_seg);
        let mut m = Cpu.alloc(&[1, 3 * q]);
        Cpu.circuit(&mut m, None, &theta, Some(&enc), &self.program);
        m.as_slice().to_vec()
    }
}
