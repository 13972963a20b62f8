//! `ChunkedGatedSuperposition` (reference `models/QuantumGatedRecurrence.py`; spec
//! gated-and-protocols §1.5), the sequence mixer of the gated models `mg` and `hg`:
//!
//! x (T, F) → per time step q_t = QSB(x_t) (Q = 3n, the QGR-flavour [`QsbQgr`], batched over the
//! steps of a chunk) → per chunk c = [cC, min((c+1)C, T)) (no padding: the last chunk may be
//! short and is averaged over its true length) μ_c = mean_t q_t → u_c =
//! Dropout(SiLU(LN(W_a·μ_c + b_a))) (H) → z = [h_{c−1}; u_c] (2H) → f, i, o = σ(W_{f,i,o}·z +
//! b), g = tanh(W_g·z + b) → h_c = o ⊙ tanh(f ⊙ h_{c−1} + i ⊙ g), h_0 = 0. Output h_{n_c} (H).
//!
//! State-dict names under `<prefix>`: `quantum_superposition.*`, `chunk_agg.0` (Linear(Q, H)),
//! `chunk_agg.1` (LayerNorm(H)), `{forget_gate,input_gate,output_gate,candidate}.0`
//! (Linear(2H, H)). Shape legend: T time, F features, H hidden, Q = 3n measured features,
//! n qubits, C chunk size.
use super::dropout::Dropout;
use super::linear::Linear;
use super::norm::{LayerNorm, NormCache};
use super::pool::{mean_pool_backward, mean_pool_forward};
use super::qsb_qgr::{QsbQgr, QsbQgrCache};
use crate::models::{AnsatzKind, ModelConfig};
use crate::params::ParamLayout;
use qssm_kernels::circuit::Program;
use qssm_kernels::ops::activation::{silu_backward, silu_forward};
use qssm_kernels::ops::gated::{gated_cell_backward, gated_cell_forward};
use rand_chacha::ChaCha8Rng;

/// Gate names in the order of the kernel's pre-activation rows `[a_f; a_i; a_o; a_g]`.
const GATES: [&str; 4] = ["forget_gate", "input_gate", "output_gate", "candidate"];

/// The circuit of the gated models' QSB branches for `cfg` (spec §1.2): the unified 5-angle
/// ansatz without data encoding (K = 5·n·`n_layers`) or the legacy 4-angle ansatz
/// (K = 4·n·`n_layers`), on n = `cfg.n_qubits` wires.
pub fn gated_program(cfg: &ModelConfig) -> Program {
    match cfg.ansatz {
        AnsatzKind::Unified5 => Program::unified_ansatz(cfg.n_qubits, cfg.n_layers, false),
        AnsatzKind::Legacy4 => Program::legacy_ansatz(cfg.n_qubits, cfg.n_layers),
    }
}

/// Chunk [start, start + len) of a sequence of `t` steps, chunk size `c` (no padding).
fn chunk_bounds(t: usize, c: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..t.div_ceil(c)).map(move |k| (k * c, c.min(t - k * c)))
}

/// The chunked gated recurrence over input features of width F.
#[derive(Clone, Debug)]
pub struct ChunkedGatedSuperposition {
    qsb: QsbQgr,
    agg: Linear,
    agg_ln: LayerNorm,
    gates: [Linear; 4],
    drop: Dropout,
    f: usize,
    q: usize,
    h: usize,
    chunk: usize,
}

/// Activations of one chunk, saved by [`ChunkedGatedSuperposition::forward`].
#[derive(Clone, Debug, Default)]
pub struct CgsChunkCache {
    /// first time step of the chunk
    pub start: usize,
    /// number of steps (≤ C)
    pub len: usize,
    /// QSB cache of the chunk's `len` rows
    pub qsb: QsbQgrCache,
    /// q_t (len, Q)
    pub q: Vec<f32>,
    /// μ_c (Q)
    pub mu: Vec<f32>,
    /// W_a μ + b_a (H)
    pub a: Vec<f32>,
    /// LN(a) (H)
    pub ln: Vec<f32>,
    /// LayerNorm statistics
    pub lnc: NormCache,
    /// `chunk_agg` output SiLU(LN(a)) (H), before dropout
    pub agg: Vec<f32>,
    /// dropout mask (H; empty in eval)
    pub mask: Vec<f32>,
    /// z = [h_{c−1}; u_c] (2H)
    pub z: Vec<f32>,
    /// [f; i; o; g] (4, H)
    pub gates: Vec<f32>,
    /// tanh(f ⊙ h_{c−1} + i ⊙ g) (H)
    pub tc: Vec<f32>,
}

/// Everything [`ChunkedGatedSuperposition::forward`] saves for one sequence.
#[derive(Clone, Debug, Default)]
pub struct CgsCache {
    /// per chunk, in processing order
    pub chunks: Vec<CgsChunkCache>,
    /// h_c after every chunk (n_c, H): the reference's `all_states`
    pub states: Vec<f32>,
}

impl CgsCache {
    /// h_{n_c} (H), the block's output (zeros for an empty sequence).
    pub fn h_final(&self, h: usize) -> &[f32] {
        let n = self.states.len();
        if n < h {
            &[]
        } else {
            &self.states[n - h..]
        }
    }
}

impl ChunkedGatedSuperposition {
    /// Registers `<prefix>quantum_superposition.*`, `<prefix>chunk_agg.{0,1}` and the four
    /// gates `<prefix>{forget_gate,input_gate,output_gate,candidate}.0` for input width `f`,
    /// hidden size `h`, chunk size `chunk` (≥ 1), circuit `program` (see [`gated_program`]) and
    /// dropout probability `dropout` on u_c.
    pub fn new(
        lay: &mut ParamLayout,
        prefix: &str,
        f: usize,
        h: usize,
        chunk: usize,
        program: Program,
        dropout: f32,
    ) -> Self {
        assert!(chunk >= 1, "chunk_size must be ≥ 1");
        let qsb = QsbQgr::new(lay, &format!("{prefix}quantum_superposition."), f, program);
        let q = qsb.out_dim();
        let agg = Linear::new(lay, &format!("{prefix}chunk_agg.0"), q, h, true);
        let agg_ln = LayerNorm::new(lay, &format!("{prefix}chunk_agg.1"), h);
        let gates = GATES.map(|g| Linear::new(lay, &format!("{prefix}{g}.0"), 2 * h, h, true));
        Self {
            qsb,
            agg,
            agg_ln,
            gates,
            drop: Dropout { p: dropout },
            f,
            q,
            h,
            chunk,
        }
    }

    /// Hidden size H.
    pub fn hidden(&self) -> usize {
        self.h
    }

    /// Number of chunks ⌈T/C⌉ for a sequence of `t` steps.
    pub fn n_chunks(&self, t: usize) -> usize {
        t.div_ceil(self.chunk)
    }

    /// Forward over x (T, F) token-major; dropout on u_c when `rng` is given. Fills `c` and
    /// returns h_{n_c} (H).
    pub fn forward(
        &self,
        p: &[f32],
        x: &[f32],
        t: usize,
        mut rng: Option<&mut ChaCha8Rng>,
        c: &mut CgsCache,
    ) -> Vec<f32> {
        let (f, q, h) = (self.f, self.q, self.h);
        assert!(x.len() >= t * f, "CGS: x must hold T·F values");
        c.chunks.clear();
        c.states.clear();
        c.states.reserve(self.n_chunks(t) * h);
        let mut h_prev = vec![0.0f32; h];
        let mut pre = vec![0.0f32; 4 * h];
        for (start, len) in chunk_bounds(t, self.chunk) {
            let mut k = CgsChunkCache {
                start,
                len,
                ..Default::default()
            };
            let xs = &x[start * f..(start + len) * f];
            k.q = self.qsb.forward(p, xs, len, &mut k.qsb);
            k.mu = mean_pool_forward(&k.q, len, q);
            k.a = self.agg.apply(p, &k.mu, 1);
            k.ln = vec![0.0; h];
            self.agg_ln.forward(p, &k.a, 1, &mut k.ln, &mut k.lnc);
            k.agg = vec![0.0; h];
            silu_forward(&mut k.agg, &k.ln);
            let mut u = k.agg.clone();
            k.mask = self.drop.forward(&mut u, rng.as_deref_mut());
            k.z = [h_prev.as_slice(), u.as_slice()].concat();
            for (gi, lin) in self.gates.iter().enumerate() {
                lin.forward(p, &k.z, 1, &mut pre[gi * h..(gi + 1) * h]);
            }
            k.gates = vec![0.0; 4 * h];
            k.tc = vec![0.0; h];
            let mut h_new = vec![0.0f32; h];
            gated_cell_forward(&mut h_new, &mut k.gates, &mut k.tc, &pre, &h_prev);
            c.states.extend_from_slice(&h_new);
            h_prev = h_new;
            c.chunks.push(k);
        }
        h_prev
    }

    /// Backward through time from `dh` = d loss/d h_{n_c} (H): accumulates the parameter
    /// gradients into `g` and dx (T, F) into `dx`. `x`, `t` and `c` as in the forward.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        x: &[f32],
        t: usize,
        c: &CgsCache,
        dh: &[f32],
        dx: &mut [f32],
    ) {
        let (f, q, h) = (self.f, self.q, self.h);
        assert!(dx.len() >= t * f, "CGS: dx must hold T·F values");
        let zeros = vec![0.0f32; h];
        let mut dh = dh.to_vec();
        let mut dpre = vec![0.0f32; 4 * h];
        let mut dz = vec![0.0f32; 2 * h];
        let mut dln = vec![0.0f32; h];
        let mut da = vec![0.0f32; h];
        let mut dmu = vec![0.0f32; q];
        let mut dq = Vec::new();
        for (ci, k) in c.chunks.iter().enumerate().rev() {
            let h_prev = if ci == 0 {
                &zeros[..]
            } else {
                &c.states[(ci - 1) * h..ci * h]
            };
            dpre.fill(0.0);
            let mut dh_prev = vec![0.0f32; h];
            gated_cell_backward(&mut dpre, &mut dh_prev, &dh, &k.gates, &k.tc, h_prev);
            dz.fill(0.0);
            for (gi, lin) in self.gates.iter().enumerate() {
                lin.backward(p, g, &k.z, &dpre[gi * h..(gi + 1) * h], 1, Some(&mut dz));
            }
            dh_prev.iter_mut().zip(&dz[..h]).for_each(|(a, b)| *a += b);
            let du = &mut dz[h..];
            self.drop.backward(du, &k.mask);
            dln.fill(0.0);
            silu_backward(&mut dln, du, &k.ln);
            da.fill(0.0);
            self.agg_ln.backward(p, g, &k.a, &dln, 1, &k.lnc, &mut da);
            dmu.fill(0.0);
            self.agg.backward(p, g, &k.mu, &da, 1, Some(&mut dmu));
            dq.clear();
            dq.resize(k.len * q, 0.0);
            mean_pool_backward(&mut dq, &dmu, k.len, q);
            let rows = k.start * f..(k.start + k.len) * f;
            self.qsb
                .backward(p, g, &x[rows.clone()], k.len, &k.qsb, &dq, &mut dx[rows]);
            dh = dh_prev;
        }
    }

    /// Eval-mode intermediates named like the reference's submodules under `name` (e.g.
    /// `gated_recurrence`), each recorded at its first call (chunk 0): `name` = h_{n_c} (H),
    /// `name.quantum_superposition` = q_t of chunk 0 (len₀, Q), `name.chunk_agg` and
    /// `name.dropout` = u_0 (H), `name.{forget_gate,input_gate,output_gate,candidate}` = f, i,
    /// o, g of chunk 0 (H); plus `name.all_states` = every h_c (n_c, H), the second element
    /// of the reference's return tuple.
    pub fn trace(&self, name: &str, c: &CgsCache) -> Vec<(String, Vec<f32>)> {
        let h = self.h;
        let mut out = vec![(name.to_string(), c.h_final(h).to_vec())];
        if let Some(k) = c.chunks.first() {
            let mut u = k.agg.clone();
            self.drop.backward(&mut u, &k.mask);
            out.push((format!("{name}.quantum_superposition"), k.q.clone()));
            out.push((format!("{name}.chunk_agg"), k.agg.clone()));
            out.push((format!("{name}.dropout"), u));
            for (gi, gname) in GATES.iter().enumerate() {
                out.push((
                    format!("{name}.{gname}"),
                    k.gates[gi * h..(gi + 1) * h].to_vec(),
                ));
            }
        }
        out.push((format!("{name}.all_states"), c.states.clone()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

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
    fn chunk_bounds_have_no_padding() {
        let lens = |t, c| chunk_bounds(t, c).map(|(_, l)| l).collect::<Vec<_>>();
        assert_eq!(lens(11, 4), [4, 4, 3]);
        let l = lens(249, 8);
        assert_eq!((l.len(), l[30], l[31]), (32, 8, 1));
        let l = lens(125, 8);
        assert_eq!((l.len(), l[15]), (16, 5));
        assert_eq!(lens(497, 8).len(), 63);
        assert_eq!(lens(1, 8), [1]);
        let starts: Vec<_> = chunk_bounds(11, 4).map(|(s, _)| s).collect();
        assert_eq!(starts, [0, 4, 8]);
    }

    #[test]
    fn gated_program_follows_the_ansatz() {
        let p = gated_program(&small_cfg(AnsatzKind::Unified5));
        assert_eq!((p.n_theta, p.n_enc), (30, 0));
        let p = gated_program(&small_cfg(AnsatzKind::Legacy4));
        assert_eq!((p.n_theta, p.n_enc), (24, 0));
    }

    /// §1.11: h_c depends only on x[..end of chunk c] (the recurrence is causal chunk by chunk).
    #[test]
    fn cgs_is_causal_chunk_by_chunk() {
        let cfg = small_cfg(AnsatzKind::Unified5);
        let (f, t, h) = (cfg.n_channels, cfg.n_times, cfg.hidden_dim);
        let mut lay = ParamLayout::new();
        let cgs = ChunkedGatedSuperposition::new(&mut lay, "", f, h, 4, gated_program(&cfg), 0.0);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let p = lay.init(&mut rng);
        let x: Vec<f32> = (0..t * f).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let mut c0 = CgsCache::default();
        cgs.forward(&p, &x, t, None, &mut c0);
        for change_at in [4usize, 8, 10] {
            let mut x2 = x.clone();
            x2[change_at * f] += 0.5;
            let mut c2 = CgsCache::default();
            cgs.forward(&p, &x2, t, None, &mut c2);
            let unchanged = change_at / 4; // chunks before the one holding `change_at`
            assert_eq!(c0.states[..unchanged * h], c2.states[..unchanged * h]);
            assert_ne!(c0.states[unchanged * h..], c2.states[unchanged * h..]);
        }
    }

    /// Directional derivatives of a scalar of h (and of dx) against central differences, per
    /// parameter tensor, with dropout on u_c (same masks in every evaluation), both ansätze.
    #[test]
    fn cgs_gradients_match_central_differences() {
        for ansatz in [AnsatzKind::Unified5, AnsatzKind::Legacy4] {
            let cfg = small_cfg(ansatz);
            let (f, t, h) = (cfg.n_channels, cfg.n_times, cfg.hidden_dim);
            let mut lay = ParamLayout::new();
            let cgs =
                ChunkedGatedSuperposition::new(&mut lay, "", f, h, 4, gated_program(&cfg), 0.2);
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            // perturb every parameter (the zero-initialised imaginary parts make |·| kinks)
            let p: Vec<f32> = lay
                .init(&mut rng)
                .iter()
                .map(|v| v + rng.gen_range(-0.05..0.05))
                .collect();
            let x: Vec<f32> = (0..t * f).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let w: Vec<f32> = (0..h).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let obj = |p: &[f32], x: &[f32]| -> f64 {
                let mut r = ChaCha8Rng::seed_from_u64(77);
                let mut c = CgsCache::default();
                let hf = cgs.forward(p, x, t, Some(&mut r), &mut c);
                hf.iter().zip(&w).map(|(a, b)| (a * b) as f64).sum()
            };
            let mut r = ChaCha8Rng::seed_from_u64(77);
            let mut c = CgsCache::default();
            cgs.forward(&p, &x, t, Some(&mut r), &mut c);
            assert!(c.chunks.iter().all(|k| k.mask.len() == h));
            let mut g = vec![0.0f32; p.len()];
            let mut dx = vec![0.0f32; t * f];
            cgs.backward(&p, &mut g, &x, t, &c, &w, &mut dx);
            let eps = 4e-3f32;
            let check = |name: &str, an: f64, plus: f64, minus: f64| {
                let fd = (plus - minus) / (2.0 * eps as f64);
                let err = (fd - an).abs();
                assert!(
                    err <= 2e-2 * an.abs().max(fd.abs()) + 3e-4,
                    "{ansatz:?} {name}: analytic {an:e} vs central difference {fd:e}"
                );
            };
            for s in lay.specs() {
                let v: Vec<f32> = (0..s.range.len())
                    .map(|_| rng.gen_range(-1.0..1.0))
                    .collect();
                let an: f64 = g[s.range.clone()]
                    .iter()
                    .zip(&v)
                    .map(|(a, b)| (a * b) as f64)
                    .sum();
                let shifted = |sign: f32| {
                    let mut q = p.clone();
                    q[s.range.clone()]
                        .iter_mut()
                        .zip(&v)
                        .for_each(|(a, b)| *a += sign * eps * b);
                    obj(&q, &x)
                };
                check(&s.name, an, shifted(1.0), shifted(-1.0));
            }
            let v: Vec<f32> = (0..t * f).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let an: f64 = dx.iter().zip(&v).map(|(a, b)| (a * b) as f64).sum();
            let shifted = |sign: f32| {
                let xs: Vec<f32> = x.iter().zip(&v).map(|(a, b)| a + sign * eps * b).collect();
                obj(&p, &xs)
            };
            check("dx", an, shifted(1.0), shifted(-1.0));
        }
    }
}
