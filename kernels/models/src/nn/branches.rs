//! `QuantumSuperpositionBranches` written once over the backend: three variational circuits per
//! input row, combined with normalised complex coefficients α, β, γ
//! (c̄ = c/√(|α|²+|β|²+|γ|²+ε)). Two flavours (spec circuits-and-groups-1-3 §2.3–2.4):
//!
//! * [`Branches::qssm`] (reference `models/QuantumSSM.py`; 1b, 1c): unified ansatz with an RY
//!   data encoding e = π·tanh(`input_proj`(s)) shared by the three circuits, angles
//!   θ_k = `proj_k`(s); output `concat(|ᾱ|·m₁, |β̄|·m₂, |γ̄|·m₃)` (3·3Q), ε = 1e-8;
//! * [`Branches::qgr`] (reference `models/QuantumGatedRecurrence.py`; 1a): no encoding,
//!   θ_k = 2π·σ(`proj_k`(s) + `branch_k.base_params`); output |ᾱ·m₁ + β̄·m₂ + γ̄·m₃| (3Q),
//!   ε = 1e-9.
//!
//! m_k (R, 3Q) are the X, Y, Z expectation values of every wire ([`Infer::circuit`],
//! complex128 state, adjoint backward). Input s (B, L, F) → output (B, L, width).
use super::linear::Linear;
use crate::params::{default_uniform, Init, ParamLayout};
use crate::prelude::*;
use core::ops::Range;
use qssm_kernels::backend::{circuit_state_words, Act, Backend, Infer, Superpose, SuperposeP};
use qssm_kernels::circuit::Program;

const PI_F32: f32 = core::f32::consts::PI;
const TWO_PI_F32: f32 = 2.0 * core::f32::consts::PI;

/// How the circuit angles come from the input.
#[derive(Clone, Debug)]
enum Angles {
    /// QSSM: θ_k = proj_k(s), e = π·tanh(input_proj(s))
    Encoded { input_proj: Linear },
    /// QGR: θ_k = 2π·σ(proj_k(s) + base_k)
    Sigmoid { base: [Range<usize>; 3] },
}

/// The branch block over input features of width F.
#[derive(Clone, Debug)]
pub struct Branches {
    proj: [Linear; 3],
    angles: Angles,
    program: Program,
    sp: SuperposeP,
    q: usize,
}

/// Planned activations of [`Branches`] for (B, L) rows.
pub struct BranchActs<B: Infer> {
    /// proj_k(s) (B, L, K): θ_k (QSSM) or the pre-activation (QGR, base added)
    pre: [B::Buf; 3],
    /// QGR: raw proj_k(s) before the base (trace); QSSM: unused (empty)
    raw: [B::Buf; 3],
    /// QGR: σ(pre_k) (B, L, K)
    sig: [B::Buf; 3],
    /// QGR: θ_k = 2π·σ (B, L, K)
    theta: [B::Buf; 3],
    /// QSSM: input_proj(s), tanh of it, e = π·tanh (B, L, Q)
    enc: [B::Buf; 3],
    /// expectation values m_k (B, L, 3Q)
    pub m: [B::Buf; 3],
    /// final circuit states (B, L, 4·2^Q words), kept for the adjoint backward
    states: [B::Buf; 3],
    /// output (B, L, width)
    pub out: B::Buf,
    // backward scratch
    dm: [B::Buf; 3],
    dtheta: B::Buf,
    dsig: B::Buf,
    dpre: B::Buf,
    denc: [B::Buf; 2],
}

impl Branches {
    /// The QSSM flavour: registers `<prefix>{alpha,beta,gamma}_{real,imag}`, `proj{1,2,3}`,
    /// `input_proj` for `n_qubits` qubits and `n_layers` ansatz layers (K = 5·Q·layers).
    pub fn qssm(
        lay: &mut ParamLayout,
        prefix: &str,
        f: usize,
        n_qubits: usize,
        n_layers: usize,
    ) -> Self {
        // state_dict order of the reference: alpha_real, beta_real, gamma_real, then the imags
        let reals = ["alpha", "beta", "gamma"]
            .map(|c| lay.add(format!("{prefix}{c}_real"), &[1], Init::Uniform(0.25, 0.75)));
        let imags = ["alpha", "beta", "gamma"]
            .map(|c| lay.add(format!("{prefix}{c}_imag"), &[1], Init::Const(0.0)));
        let program = Program::unified_ansatz(n_qubits, n_layers, true);
        let k = program.n_theta;
        let proj = [1, 2, 3].map(|i| Linear::new(lay, &format!("{prefix}proj{i}"), f, k, true));
        let input_proj = Linear::with_init(
            lay,
            &format!("{prefix}input_proj"),
            f,
            n_qubits,
            true,
            default_uniform(f),
            default_uniform(f),
        );
        let coeffs = [0, 1, 2].map(|i| [reals[i].start, imags[i].start]);
        Self {
            proj,
            angles: Angles::Encoded { input_proj },
            program,
            sp: SuperposeP {
                coeffs,
                eps: 1e-8,
                mode: Superpose::Concat,
            },
            q: n_qubits,
        }
    }

    /// The QGR flavour: registers `<prefix>{alpha,beta,gamma}_{real,imag}`, `proj{1,2,3}`,
    /// `branch{1,2,3}.base_params` for the circuit `program` (no encoding gates).
    pub fn qgr(lay: &mut ParamLayout, prefix: &str, f: usize, program: Program) -> Self {
        assert_eq!(
            program.n_enc, 0,
            "the QGR flavour has no data-encoding gates"
        );
        // state_dict order: alpha_real, alpha_imag, beta_real, beta_imag, …
        let coeffs = ["alpha", "beta", "gamma"].map(|c| {
            let re = lay.add(format!("{prefix}{c}_real"), &[1], Init::Uniform(0.0, 1.0));
            let im = lay.add(format!("{prefix}{c}_imag"), &[1], Init::Const(0.0));
            [re.start, im.start]
        });
        let k = program.n_theta;
        let proj = [1, 2, 3].map(|i| Linear::new(lay, &format!("{prefix}proj{i}"), f, k, true));
        let base = [1, 2, 3].map(|i| {
            lay.add(
                format!("{prefix}branch{i}.base_params"),
                &[k],
                Init::Uniform(0.0, TWO_PI_F32),
            )
        });
        let q = program.n_qubits;
        Self {
            proj,
            angles: Angles::Sigmoid { base },
            program,
            sp: SuperposeP {
                coeffs,
                eps: 1e-9,
                mode: Superpose::Modulus,
            },
            q,
        }
    }

    /// Output width: 3·3Q (QSSM) or 3Q (QGR).
    pub fn out_dim(&self) -> usize {
        match self.sp.mode {
            Superpose::Concat => 9 * self.q,
            _ => 3 * self.q,
        }
    }

    /// Buffers for (B, L) rows.
    pub fn plan<B: Infer>(&self, be: &B, b: usize, l: usize) -> BranchActs<B> {
        self.plan_with(be, b, l, true)
    }

    /// [`Self::plan`] for the eval forward only (a streaming step): no kept circuit states,
    /// no backward scratch (those buffers are empty).
    pub fn plan_eval<B: Infer>(&self, be: &B, b: usize, l: usize) -> BranchActs<B> {
        self.plan_with(be, b, l, false)
    }

    fn plan_with<B: Infer>(&self, be: &B, b: usize, l: usize, train: bool) -> BranchActs<B> {
        let k = self.program.n_theta;
        let s = |w: usize| be.alloc(&[b, l, w]);
        // a buffer only the backward reads
        let bw = |w: usize| be.alloc(&[b, l, if train { w } else { 0 }]);
        let qgr = matches!(self.angles, Angles::Sigmoid { .. });
        let kk = |on: bool| if on { k } else { 0 };
        let qq = if qgr { 0 } else { self.q };
        BranchActs {
            pre: [0; 3].map(|_| s(k)),
            raw: [0; 3].map(|_| s(kk(qgr))),
            sig: [0; 3].map(|_| s(kk(qgr))),
            theta: [0; 3].map(|_| s(kk(qgr))),
            enc: [0; 3].map(|_| s(qq)),
            m: [0; 3].map(|_| s(3 * self.q)),
            states: [0; 3].map(|_| bw(circuit_state_words(self.q))),
            out: s(self.out_dim()),
            dm: [0; 3].map(|_| bw(3 * self.q)),
            dtheta: bw(k),
            dsig: bw(kk(qgr)),
            dpre: bw(kk(qgr)),
            denc: [0; 2].map(|_| bw(qq)),
        }
    }

    /// s (B, L, F) → `a.out`.
    pub fn forward<B: Infer>(&self, be: &B, p: &B::Params, s: &B::Buf, a: &mut BranchActs<B>) {
        match &self.angles {
            Angles::Encoded { input_proj } => {
                let [e_pre, tanh_e, e] = &mut a.enc;
                input_proj.forward(be, p, s, e_pre);
                be.act(Act::Tanh, tanh_e, e_pre);
                be.scale(e, tanh_e, PI_F32);
                for k in 0..3 {
                    self.proj[k].forward(be, p, s, &mut a.pre[k]);
                    let keep = (be.numel(&a.states[k]) > 0).then_some(&mut a.states[k]);
                    be.circuit(&mut a.m[k], keep, &a.pre[k], Some(&a.enc[2]), &self.program);
                }
            }
            Angles::Sigmoid { base } => {
                for (k, base) in base.iter().enumerate() {
                    self.proj[k].forward(be, p, s, &mut a.raw[k]);
                    be.copy(&mut a.pre[k], &a.raw[k]);
                    be.add_param_row(&mut a.pre[k], p, base.clone());
                    be.act(Act::Sigmoid, &mut a.sig[k], &a.pre[k]);
                    be.scale(&mut a.theta[k], &a.sig[k], TWO_PI_F32);
                    let keep = (be.numel(&a.states[k]) > 0).then_some(&mut a.states[k]);
                    be.circuit(&mut a.m[k], keep, &a.theta[k], None, &self.program);
                }
            }
        }
        let [m0, m1, m2] = &a.m;
        be.superpose(&mut a.out, [m0, m1, m2], p, &self.sp);
    }

    /// Backward from d out: accumulates parameter gradients into `g` and ds (B, L, F).
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        s: &B::Buf,
        a: &mut BranchActs<B>,
        dout: &B::Buf,
        ds: &mut B::Buf,
    ) {
        for dm in &mut a.dm {
            be.fill(dm, 0.0);
        }
        {
            let [d0, d1, d2] = &mut a.dm;
            let [m0, m1, m2] = &a.m;
            be.superpose_bwd([d0, d1, d2], g, dout, [m0, m1, m2], p, &self.sp);
        }
        match &self.angles {
            Angles::Encoded { input_proj } => {
                let [de, dtanh] = &mut a.denc;
                be.fill(de, 0.0);
                for k in 0..3 {
                    be.fill(&mut a.dtheta, 0.0);
                    be.circuit_bwd(
                        &mut a.dtheta,
                        Some(de),
                        &a.dm[k],
                        Some(&a.states[k]),
                        &a.pre[k],
                        Some(&a.enc[2]),
                        &self.program,
                    );
                    self.proj[k].backward(be, p, g, s, &a.dtheta, Some(ds));
                }
                // e = π·tanh(e_pre): reuse de for d e_pre
                be.scale(dtanh, de, PI_F32);
                be.fill(de, 0.0);
                be.act_bwd(Act::Tanh, de, dtanh, &a.enc[1]);
                input_proj.backward(be, p, g, s, de, Some(ds));
            }
            Angles::Sigmoid { base } => {
                for (k, base) in base.iter().enumerate() {
                    be.fill(&mut a.dtheta, 0.0);
                    be.circuit_bwd(
                        &mut a.dtheta,
                        None,
                        &a.dm[k],
                        Some(&a.states[k]),
                        &a.theta[k],
                        None,
                        &self.program,
                    );
                    be.scale(&mut a.dsig, &a.dtheta, TWO_PI_F32);
                    be.fill(&mut a.dpre, 0.0);
                    be.act_bwd(Act::Sigmoid, &mut a.dpre, &a.dsig, &a.sig[k]);
                    be.add_param_row_bwd(g, base.clone(), &a.dpre);
                    self.proj[k].backward(be, p, g, s, &a.dpre, Some(ds));
                }
            }
        }
    }

    /// Named per-branch intermediates after a forward (QGR flavour, as the reference's
    /// submodules report them): `<prefix>proj{k}` = proj_k(s) (B, L, K) and
    /// `<prefix>branch{k}` = m_k (B, L, 3Q).
    pub fn trace<'a, B: Infer>(
        &self,
        a: &'a BranchActs<B>,
        prefix: &str,
    ) -> Vec<(String, &'a B::Buf)> {
        let proj = match self.angles {
            Angles::Sigmoid { .. } => &a.raw,
            Angles::Encoded { .. } => &a.pre,
        };
        let mut out: Vec<(String, &B::Buf)> = (0..3)
            .map(|k| (format!("{prefix}proj{}", k + 1), &proj[k]))
            .collect();
        out.extend((0..3).map(|k| (format!("{prefix}branch{}", k + 1), &a.m[k])));
        out
    }
}
