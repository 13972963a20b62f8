//! The S3 "superposition core" of 2d, 2e, 4d and 4e (spec groups-2-4 §2.3, §3.4, §3.5, §3.10,
//! §3.11; reference `QuantumHydraSSMCore` in `models/QuantumHydraSSM.py` and the core of
//! `models/QuantumE2E_Superposition.py`):
//!
//! three branch circuits ψ₁, ψ₂, ψ₃ (each a [`ComposedCircuit`] run from |0…0⟩) →
//! φ = (α ψ₁ + β ψ₂ + γ ψ₃)/n, n = √(|α|²+|β|²+|γ|²+1e-9), φ ← φ/(‖φ‖₂ + 1e-9) →
//! q = M(φ) = [⟨X_w⟩, ⟨Y_w⟩, ⟨Z_w⟩] (3Q, f32).
//!
//! The complex coefficients are six real scalars of PyTorch shape `()`, registered as
//! `<name>.{alpha,beta,gamma}_{real,imag}` (in this order, = state_dict order), init real
//! 1/√3, imaginary 0. They are the block's only parameters: the angle sources of the branches
//! (e.g. 2d's `forward_param_proj` outputs) belong to the caller.
//!
//! The branches are generic: the caller gives three [`ComposedCircuit`]s that all read **one**
//! shared [`CircuitInputs`] (angle-source vectors, dt values, embedding angles a, injection
//! angles), each branch picking its sources through its [`super::composed_circuit::Block`]s.
//! The backward accumulates every branch's gradient into one shared [`CircuitGrads`]. E.g. 2d:
//! sources \[Pf, Pb, Pd\], dts \[dt\], branches E(a)·D²(Pf; dt), E(a)·Bk²(Pb; dt), E(a)·U²(Pd);
//! 4d: sources [F, Mf, Mb, Md], branches E(a)·U²(F)·D²(Mf; dt)·E(dt·inj), … (the shared prefix
//! is recomputed per branch, as in the reference).
//!
//! Global phases matter here (§2.1); the superposition arithmetic runs in f64 (the reference
//! used complex64: ~1e-7 relative difference).
use super::composed_circuit::{
    measure, measure_backward, CircuitGrads, CircuitInputs, CircuitRun, ComposedCircuit,
};
use crate::params::{Init, ParamLayout};
use num_complex::Complex64;
use qssm_kernels::circuit::superpose::{
    s3_weights, s3_weights_backward, superpose_backward, superpose_forward,
};
use std::ops::Range;

/// Three branch circuits combined by S3 and measured (see the module docs).
#[derive(Clone, Debug)]
pub struct SuperpositionCore {
    coeffs: Range<usize>,
    branches: [ComposedCircuit; 3],
    q: usize,
}

/// Saved forward state of one [`SuperpositionCore`] evaluation.
#[derive(Clone, Debug, Default)]
pub struct SuperpositionRun {
    /// the three branch runs (final states ψ_i, 2^Q each)
    pub branches: Vec<CircuitRun>,
    /// S3 weights (α, β, γ)/n
    pub w: [Complex64; 3],
    /// renormalised superposition φ (2^Q)
    pub phi: Vec<Complex64>,
    /// ‖α ψ₁ + β ψ₂ + γ ψ₃‖₂ / n before the renormalisation
    pub r: f64,
    /// measurement q = M(φ) (3Q)
    pub q: Vec<f32>,
}

impl SuperpositionCore {
    /// Registers `<name>.{alpha,beta,gamma}_{real,imag}` (shape `()`) and takes the three
    /// branches (all on the same number of qubits).
    ///
    /// # Panics
    /// If the branches have different qubit counts.
    pub fn new(lay: &mut ParamLayout, name: &str, branches: [ComposedCircuit; 3]) -> Self {
        let q = branches[0].program().n_qubits;
        assert!(
            branches.iter().all(|b| b.program().n_qubits == q),
            "superposition branches on different qubit counts"
        );
        let re = Init::Const((1.0f64 / 3.0f64.sqrt()) as f32);
        let start = lay.len();
        for coef in ["alpha", "beta", "gamma"] {
            lay.add(format!("{name}.{coef}_real"), &[], re);
            lay.add(format!("{name}.{coef}_imag"), &[], Init::Const(0.0));
        }
        Self {
            coeffs: start..lay.len(),
            branches,
            q,
        }
    }

    /// Output width 3Q (18 at Q = 6).
    pub fn n_out(&self) -> usize {
        3 * self.q
    }

    /// Runs the three branches on `inp`, superposes and measures.
    pub fn forward(&self, p: &[f32], inp: &CircuitInputs<'_>) -> SuperpositionRun {
        let branches: Vec<CircuitRun> = self.branches.iter().map(|b| b.forward(inp)).collect();
        let w = s3_weights(&p[self.coeffs.clone()]);
        let mut phi = vec![Complex64::new(0.0, 0.0); branches[0].psi.len()];
        let states: Vec<&[Complex64]> = branches.iter().map(|b| &b.psi[..]).collect();
        let r = superpose_forward(&w, &states, &mut phi);
        let q = measure(&phi, self.q);
        SuperpositionRun {
            branches,
            w,
            phi,
            r,
            q,
        }
    }

    /// Backward from dq (3Q): accumulates the coefficient gradients into `g` and the branch
    /// inputs' gradients into `grads` (shared by the three branches).
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        inp: &CircuitInputs<'_>,
        run: &SuperpositionRun,
        dq: &[f32],
        grads: &mut CircuitGrads<'_>,
    ) {
        let g_phi = measure_backward(&run.phi, self.q, dq);
        let n = run.phi.len();
        let mut g_states: Vec<Vec<Complex64>> = vec![vec![Complex64::new(0.0, 0.0); n]; 3];
        let mut g_w = [Complex64::new(0.0, 0.0); 3];
        {
            let states: Vec<&[Complex64]> = run.branches.iter().map(|b| &b.psi[..]).collect();
            let mut gs: Vec<Option<&mut [Complex64]>> =
                g_states.iter_mut().map(|v| Some(&mut v[..])).collect();
            superpose_backward(&run.w, &states, &run.phi, run.r, &g_phi, &mut gs, &mut g_w);
        }
        s3_weights_backward(&p[self.coeffs.clone()], &g_w, &mut g[self.coeffs.clone()]);
        for ((b, br), gs) in self.branches.iter().zip(&run.branches).zip(&g_states) {
            b.backward(inp, br, gs, grads);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::composed_circuit::{Block, BlockKind};
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn core_2d(lay: &mut ParamLayout) -> SuperpositionCore {
        let br = |kind, src, dt| {
            ComposedCircuit::new(
                6,
                2,
                true,
                vec![Block {
                    kind,
                    src,
                    offset: 0,
                    dt,
                }],
                None,
            )
        };
        SuperpositionCore::new(
            lay,
            "quantum_core",
            [
                br(BlockKind::Unified, 0, Some(0)),
                br(BlockKind::Backward, 1, Some(0)),
                br(BlockKind::Unified, 2, None),
            ],
        )
    }

    /// Spec TV6: S3(TV3, TV4, TV5; α = 0.6+0.2i, β = −0.3+0.5i, γ = 0.4−0.1i).
    #[test]
    fn s3_core_matches_tv6() {
        let mut lay = ParamLayout::new();
        let core = core_2d(&mut lay);
        assert_eq!(lay.len(), 6);
        assert!(lay.specs().iter().all(|s| s.shape.is_empty()));
        let p = [0.6f32, 0.2, -0.3, 0.5, 0.4, -0.1];
        let th: Vec<f32> = (0..60).map(|k| 0.05 * (k + 1) as f32 - 1.0).collect();
        let e: Vec<f32> = (0..6).map(|i| 0.4 * i as f32 - 1.0).collect();
        let srcs = [&th[..], &th[..], &th[..]];
        let inp = CircuitInputs {
            sources: &srcs,
            dts: &[0.7],
            a: &e,
            inj: &[],
        };
        let run = core.forward(&p, &inp);
        let want = [
            -0.074308738282,
            0.012625631066,
            0.266394287474,
            0.163998936394,
            0.095887111178,
            0.401288597065,
            0.402949931931,
            -0.485450233878,
            -0.293551687013,
            -0.358261615082,
            -0.567959526091,
            -0.140661095312,
            0.120450756503,
            0.550000640601,
            0.184452525613,
            -0.161976541426,
            -0.297909627990,
            0.005030217838,
        ];
        let d = run
            .q
            .iter()
            .zip(want)
            .map(|(a, b)| (*a as f64 - b).abs())
            .fold(0.0, f64::max);
        // f32 angles (the TV is float64 throughout) and the f32 output cast
        assert!(d < 1e-6, "TV6 max diff {d:e}");
    }

    /// Every gradient of the core (coefficients, the three sources, dt, a) vs central finite
    /// differences of Σ c·q.
    #[test]
    fn s3_core_backward_vs_finite_differences() {
        let mut lay = ParamLayout::new();
        let core = core_2d(&mut lay);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut r = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.gen_range(-1.5..1.5)).collect() };
        let (pf, pb, pd, a, c, coef) = (r(60), r(60), r(60), r(6), r(18), r(6));
        let dt = 0.63f32;
        let loss = |coef: &[f32], s: [&[f32]; 3], dt: f32, a: &[f32]| -> f64 {
            let inp = CircuitInputs {
                sources: &s,
                dts: &[dt],
                a,
                inj: &[],
            };
            let run = core.forward(coef, &inp);
            // f64 measurement for a clean finite difference
            let mut out = vec![0.0f64; 18];
            qssm_kernels::circuit::expvals_xyz(&run.phi, 6, &mut out);
            out.iter().zip(&c).map(|(o, &w)| o * w as f64).sum()
        };
        let srcs = [&pf[..], &pb[..], &pd[..]];
        let inp = CircuitInputs {
            sources: &srcs,
            dts: &[dt],
            a: &a,
            inj: &[],
        };
        let run = core.forward(&coef, &inp);
        let mut gcoef = vec![0.0f32; 6];
        let (mut d0, mut d1, mut d2) = (vec![0.0f32; 60], vec![0.0f32; 60], vec![0.0f32; 60]);
        let (mut ddt, mut da) = (vec![0.0f64; 1], vec![0.0f32; 6]);
        {
            let mut ds: [&mut [f32]; 3] = [&mut d0, &mut d1, &mut d2];
            let mut grads = CircuitGrads {
                sources: &mut ds,
                dts: &mut ddt,
                a: &mut da,
                inj: &mut [],
            };
            core.backward(&coef, &mut gcoef, &inp, &run, &c, &mut grads);
        }
        let h = 1e-2f32;
        let fd = |f: &dyn Fn(f32) -> f64| (f(h) - f(-h)) / (2.0 * h as f64);
        let mut worst = 0.0f64;
        let mut check = |an: f64, num: f64| worst = worst.max((an - num).abs());
        for k in 0..6 {
            let n = fd(&|e| {
                let mut v = coef.clone();
                v[k] += e;
                loss(&v, [&pf, &pb, &pd], dt, &a)
            });
            check(gcoef[k] as f64, n);
            let n = fd(&|e| {
                let mut v = a.clone();
                v[k] += e;
                loss(&coef, [&pf, &pb, &pd], dt, &v)
            });
            check(da[k] as f64, n);
        }
        for k in (0..60).step_by(7) {
            for (b, dg) in [&d0, &d1, &d2].iter().enumerate() {
                let n = fd(&|e| {
                    let mut s = [pf.clone(), pb.clone(), pd.clone()];
                    s[b][k] += e;
                    loss(&coef, [&s[0], &s[1], &s[2]], dt, &a)
                });
                check(dg[k] as f64, n);
            }
        }
        check(ddt[0], fd(&|e| loss(&coef, [&pf, &pb, &pd], dt + e, &a)));
        eprintln!("superposition core FD worst abs err {worst:.2e}");
        assert!(worst < 2e-3, "{worst}");
        // the common complex scale of (α, β, γ) is a gauge direction: Σ_k coef_k·∂L/∂coef_k = 0
        let radial: f64 = coef
            .iter()
            .zip(&gcoef)
            .map(|(&x, &gx)| x as f64 * gx as f64)
            .sum();
        assert!(radial.abs() < 1e-5, "radial derivative {radial:e}");
    }
}
