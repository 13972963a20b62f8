//! `QuantumSSMCore` of 2b and 2c (spec groups-2-4 §3.2 "QSSM(z, h₀)", reference
//! `models/QuantumMixingSSM.py`): a recurrence over the nc chunk summaries whose state is six
//! RY angles and whose transition is one circuit evaluation per chunk.
//!
//! For chunk j (z_j ∈ ℝ^D, all maps per row):
//! * p_j = `x_proj`(z_j) ∈ ℝ^{r+2N} (no bias, r = D/16); only δ_j = p_j\[0:r\] is used (the "B" and
//!   "C" slices are computed and dropped by the reference: those weight rows get zero gradient);
//! * Δ_j = softplus(`dt_proj`(δ_j)) ∈ ℝ^D; ds_j = σ(mean_k Δ_jk) ∈ (0.5, 1) (one scalar);
//! * u_j = π·tanh(`quantum_input_proj`(z_j)) ∈ ℝ^Q;
//! * sequentially q_j = M(|0⟩ → E(h_{j−1}) → D²(P; ds_j) → E(ds_j·u_j)) ∈ ℝ^{3Q},
//!   P = `circuit_params` (5Q·L, shared by every step), h_j = π·tanh(q_j\[2Q:3Q\]) (the ⟨Z⟩ block);
//! * y'_j = `quantum_output_proj`(q_j) + `D` ⊙ z_j; y = `out_proj`(y').
//!
//! Returns y (nc, D) and h_{nc−1} (Q). The backward is backpropagation through time: the
//! embedding angles of step j are h_{j−1}, so the circuit's gradient w.r.t. its E(a) angles
//! flows into step j−1's ⟨Z⟩ measurements, and past step 0 into h₀ (2b chains h₀ of layer 1
//! to layer 0's last step). The recurrence is chaotic (spec §5.1): tiny float differences
//! grow with nc.
//!
//! Registration order (= state_dict order: direct parameters first): `circuit_params` (5Q·L,
//! 0.1·N(0,1)), `D` (D, ones), `x_proj.weight` (r+2N, D), `dt_proj.{weight,bias}` (D, r),(D)
//! (bias = softplus⁻¹ of log-uniform dt ∈ [0.001, 0.1]), `quantum_input_proj.*` (Q, D),(Q),
//! `quantum_output_proj.*` (D, 3Q),(D), `out_proj.*` (D, D),(D).
use super::composed_circuit::{
    measure, measure_backward, Block, BlockKind, CircuitGrads, CircuitInputs, CircuitRun,
    ComposedCircuit,
};
use super::linear::Linear;
use crate::params::{default_uniform, Init, ParamLayout};
use qssm_kernels::ops::activation::{
    softplus_backward, softplus_forward, tanh_backward, tanh_forward,
};
use std::f32::consts::PI;
use std::ops::Range;

/// f32 logistic σ(x) = 1/(1+e^{−x}) (torch's f32 `sigmoid`).
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// One `QuantumSSMCore` (see the module docs).
#[derive(Clone, Debug)]
pub struct QuantumSsmCore {
    circuit_params: Range<usize>,
    d_skip: Range<usize>,
    x_proj: Linear,
    dt_proj: Linear,
    in_proj: Linear,
    out_q: Linear,
    out_proj: Linear,
    circuit: ComposedCircuit,
    d: usize,
    q: usize,
    r: usize,
}

/// Activations of a [`QuantumSsmCore`] forward over L chunks.
#[derive(Clone, Debug, Default)]
pub struct QssmCache {
    /// input z (L, D)
    z: Vec<f32>,
    /// δ = x_proj(z)[:, 0:r] (L, r)
    dtr: Vec<f32>,
    /// dt_proj(δ) before softplus (L, D)
    dtp: Vec<f32>,
    /// ds (L)
    pub ds: Vec<f32>,
    /// tanh(quantum_input_proj(z)) (L, Q)
    uq: Vec<f32>,
    /// u = π·uq (L, Q)
    pub u: Vec<f32>,
    /// h_{−1} = h₀, h_0 … h_{L−1} ((L+1), Q)
    pub hs: Vec<f32>,
    /// tanh(q_j\[2Q:3Q\]) (L, Q)
    th: Vec<f32>,
    runs: Vec<CircuitRun>,
    /// measurements q (L, 3Q)
    pub q: Vec<f32>,
    /// y' = quantum_output_proj(q) + D ⊙ z (L, D)
    yp: Vec<f32>,
    l: usize,
}

impl QssmCache {
    /// Final state h_{L−1} (Q).
    pub fn h_final(&self) -> &[f32] {
        let q = self.hs.len() / (self.l + 1);
        &self.hs[self.l * q..]
    }
}

impl QuantumSsmCore {
    /// Registers the core's tensors under `<name>.` (see the module docs): width D = `d`,
    /// N = `d_state` (sizes only the unused rows of `x_proj`), Q = `n_qubits`, L = `n_layers`
    /// circuit layers.
    pub fn new(
        lay: &mut ParamLayout,
        name: &str,
        d: usize,
        d_state: usize,
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
        let circuit = ComposedCircuit::new(
            q,
            n_layers,
            true,
            vec![Block {
                kind: BlockKind::Unified,
                src: 0,
                offset: 0,
                dt: Some(0),
            }],
            Some(0),
        );
        Self {
            circuit_params,
            d_skip,
            x_proj,
            dt_proj,
            in_proj,
            out_q,
            out_proj,
            circuit,
            d,
            q,
            r,
        }
    }

    /// One circuit step q = M(|0⟩ → E(h) → D²(P; ds) → E(ds·u)) (3Q) — the reference's
    /// `qnode(h, u, ds, circuit_params)` (teacher-forced checks, spec §6).
    pub fn circuit_step(&self, p: &[f32], h: &[f32], ds: f32, u: &[f32]) -> Vec<f32> {
        let src = [&p[self.circuit_params.clone()]];
        let run = self.circuit.forward(&CircuitInputs {
            sources: &src,
            dts: &[ds],
            a: h,
            inj: u,
        });
        measure(&run.psi, self.q)
    }

    /// z (L, D), h₀ (Q) → y (L, D); the final state is [`QssmCache::h_final`].
    pub fn forward(
        &self,
        p: &[f32],
        z: &[f32],
        l: usize,
        h0: &[f32],
        c: &mut QssmCache,
    ) -> Vec<f32> {
        let (d, q, r) = (self.d, self.q, self.r);
        c.l = l;
        c.z = z.to_vec();
        let xp = self.x_proj.apply(p, z, l);
        let w = self.x_proj.d_out;
        c.dtr = xp
            .chunks_exact(w)
            .flat_map(|row| row[..r].iter().copied())
            .collect();
        c.dtp = self.dt_proj.apply(p, &c.dtr, l);
        let mut delta = vec![0.0; l * d];
        softplus_forward(&mut delta, &c.dtp);
        c.ds = delta
            .chunks_exact(d)
            .map(|row| {
                let m = (row.iter().map(|&v| v as f64).sum::<f64>() / d as f64) as f32;
                sigmoid(m)
            })
            .collect();
        let pre = self.in_proj.apply(p, z, l);
        c.uq = vec![0.0; l * q];
        tanh_forward(&mut c.uq, &pre);
        c.u = c.uq.iter().map(|&v| v * PI).collect();

        c.hs = Vec::with_capacity((l + 1) * q);
        c.hs.extend_from_slice(&h0[..q]);
        c.th = Vec::with_capacity(l * q);
        c.q = Vec::with_capacity(l * 3 * q);
        c.runs = Vec::with_capacity(l);
        let src = [&p[self.circuit_params.clone()]];
        for j in 0..l {
            let run = self.circuit.forward(&CircuitInputs {
                sources: &src,
                dts: &[c.ds[j]],
                a: &c.hs[j * q..(j + 1) * q],
                inj: &c.u[j * q..(j + 1) * q],
            });
            let qj = measure(&run.psi, q);
            let mut t = vec![0.0f32; q];
            tanh_forward(&mut t, &qj[2 * q..]);
            c.hs.extend(t.iter().map(|&v| v * PI));
            c.th.extend_from_slice(&t);
            c.q.extend_from_slice(&qj);
            c.runs.push(run);
        }
        c.yp = self.out_q.apply(p, &c.q, l);
        let dsk = &p[self.d_skip.clone()];
        for (row, zr) in c.yp.chunks_exact_mut(d).zip(z.chunks_exact(d)) {
            row.iter_mut()
                .zip(dsk.iter().zip(zr))
                .for_each(|(y, (a, b))| *y += a * b);
        }
        self.out_proj.apply(p, &c.yp, l)
    }

    /// Backward from dy (L, D) and d loss/d h_{L−1} (Q; zeros where the final state is
    /// unused): accumulates parameter gradients into `g` and dz (L, D); returns d loss/d h₀.
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        c: &QssmCache,
        dy: &[f32],
        dh_final: &[f32],
        dz: &mut [f32],
    ) -> Vec<f32> {
        let (d, q, r, l) = (self.d, self.q, self.r, c.l);
        let mut dyp = vec![0.0; l * d];
        self.out_proj.backward(p, g, &c.yp, dy, l, Some(&mut dyp));
        // y' = out_q(q) + D ⊙ z
        {
            let dsk = &p[self.d_skip.clone()];
            let gd = &mut g[self.d_skip.clone()];
            for ((gy, zr), dzr) in dyp
                .chunks_exact(d)
                .zip(c.z.chunks_exact(d))
                .zip(dz.chunks_exact_mut(d))
            {
                for k in 0..d {
                    gd[k] += gy[k] * zr[k];
                    dzr[k] += dsk[k] * gy[k];
                }
            }
        }
        let mut dq = vec![0.0; l * 3 * q];
        self.out_q.backward(p, g, &c.q, &dyp, l, Some(&mut dq));

        // backpropagation through time over the circuit steps
        let mut dh = dh_final[..q].to_vec();
        let mut dds = vec![0.0f64; l];
        let mut du = vec![0.0f32; l * q];
        let src = [&p[self.circuit_params.clone()]];
        let mut dcp = vec![0.0f32; self.circuit_params.len()];
        for j in (0..l).rev() {
            let dqj = &mut dq[j * 3 * q..(j + 1) * 3 * q];
            for i in 0..q {
                let t = c.th[j * q + i];
                dqj[2 * q + i] += dh[i] * PI * (1.0 - t * t);
            }
            let gpsi = measure_backward(&c.runs[j].psi, q, dqj);
            let inp = CircuitInputs {
                sources: &src,
                dts: &[c.ds[j]],
                a: &c.hs[j * q..(j + 1) * q],
                inj: &c.u[j * q..(j + 1) * q],
            };
            let mut da = vec![0.0f32; q];
            let mut ddt = [0.0f64; 1];
            {
                let mut srcs: [&mut [f32]; 1] = [&mut dcp];
                let mut grads = CircuitGrads {
                    sources: &mut srcs,
                    dts: &mut ddt,
                    a: &mut da,
                    inj: &mut du[j * q..(j + 1) * q],
                };
                self.circuit.backward(&inp, &c.runs[j], &gpsi, &mut grads);
            }
            dds[j] = ddt[0];
            dh = da;
        }
        g[self.circuit_params.clone()]
            .iter_mut()
            .zip(&dcp)
            .for_each(|(a, b)| *a += b);

        // u = π·tanh(quantum_input_proj(z))
        let dus: Vec<f32> = du.iter().map(|&v| v * PI).collect();
        let mut dpre = vec![0.0; l * q];
        tanh_backward(&mut dpre, &dus, &c.uq);
        self.in_proj.backward(p, g, &c.z, &dpre, l, Some(dz));

        // ds = σ(mean softplus(dt_proj(δ)))
        let mut ddelta = vec![0.0f32; l * d];
        for (j, row) in ddelta.chunks_exact_mut(d).enumerate() {
            let s = c.ds[j] as f64;
            let v = (dds[j] * s * (1.0 - s) / d as f64) as f32;
            row.iter_mut().for_each(|x| *x = v);
        }
        let mut ddtp = vec![0.0; l * d];
        softplus_backward(&mut ddtp, &ddelta, &c.dtp);
        let mut ddtr = vec![0.0; l * r];
        self.dt_proj
            .backward(p, g, &c.dtr, &ddtp, l, Some(&mut ddtr));
        let w = self.x_proj.d_out;
        let mut dxp = vec![0.0; l * w];
        for (o, i) in dxp.chunks_exact_mut(w).zip(ddtr.chunks_exact(r)) {
            o[..r].copy_from_slice(i);
        }
        self.x_proj.backward(p, g, &c.z, &dxp, l, Some(dz));
        dh
    }
}
