//! Circuits composed of the reference's layer macros (spec groups-2-4 §2.2, §2.5): an
//! optional RY embedding E(a), a sequence of two-layer blocks — unified U², Δ-modulated D²
//! (rotation angles × dt) or backward Bk² (optionally × dt) — whose 5Q·L angles come from
//! slices of caller-given angle vectors, and an optional input injection E(dt·inj) at the end.
//! Run from |0…0⟩; the final state is kept for measurement or for a superposition core.
//!
//! Examples (Q = 6, L = 2): 4b = E(a)·U²(F)·D²(Mx; dt)·E(dt·inj);
//! 4c = E(a)·U²(F)·D²(Pf; dt_f)·Bk²(Pb; dt_b)·D²(Pd; dt_d)·E(dt_f·inj);
//! 2b step = E(h)·D²(P; ds)·E(ds·u); 2d branches E(a)·D²(Pf; dt), E(a)·Bk²(Pb; dt), E(a)·U²(Pd).
//!
//! Angle products dt·θ are formed in f32 as torch did, gate entries from the f32 angles
//! (kernels `circuit`); the backward is the adjoint method through the whole composition,
//! mapped back to the angle sources, the dt values, a and inj.
use num_complex::Complex64;
use qssm_kernels::circuit::{
    apply_program, apply_program_backward, expvals_xyz, expvals_xyz_backward,
    scale_rotation_angles, scale_rotation_angles_backward, Program,
};

/// Layer macro of one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// U / D (`unified_ansatz_layer`, `delta_modulated_ansatz_layer`)
    Unified,
    /// Bk (`backward_ansatz_layer`): triple j on wire Q−1−j, backward ring first
    Backward,
}

/// One block of L layers (5Q·L angles).
#[derive(Clone, Copy, Debug)]
pub struct Block {
    /// layer macro
    pub kind: BlockKind,
    /// index of the angle-source vector
    pub src: usize,
    /// offset of the block's angles in that vector
    pub offset: usize,
    /// `Some(i)`: rotation angles multiplied by `dts[i]` (D / scaled Bk)
    pub dt: Option<usize>,
}

/// A composed circuit (see the module docs).
#[derive(Clone, Debug)]
pub struct ComposedCircuit {
    prog: Program,
    blocks: Vec<Block>,
    embed: bool,
    inject: Option<usize>,
    q: usize,
    per_block: usize,
}

/// Inputs of one evaluation.
#[derive(Clone, Copy, Debug)]
pub struct CircuitInputs<'a> {
    /// angle-source vectors (indexed by [`Block::src`])
    pub sources: &'a [&'a [f32]],
    /// dt values (indexed by [`Block::dt`] and the injection)
    pub dts: &'a [f32],
    /// embedding angles a (Q); empty without embedding
    pub a: &'a [f32],
    /// injection angles inj (Q) before scaling; empty without injection
    pub inj: &'a [f32],
}

/// Saved forward state of one evaluation.
#[derive(Clone, Debug, Default)]
pub struct CircuitRun {
    /// effective angles θ (K)
    pub theta: Vec<f32>,
    /// effective encoding angles [a, dt·inj]
    pub enc: Vec<f32>,
    /// final state (2^Q)
    pub psi: Vec<Complex64>,
}

/// Gradients of one evaluation, **accumulated** by [`ComposedCircuit::backward`].
pub struct CircuitGrads<'a> {
    /// d loss/d source vector (same shapes as [`CircuitInputs::sources`])
    pub sources: &'a mut [&'a mut [f32]],
    /// d loss/d dt (same length as `dts`)
    pub dts: &'a mut [f64],
    /// d loss/d a (Q)
    pub a: &'a mut [f32],
    /// d loss/d inj (Q)
    pub inj: &'a mut [f32],
}

impl ComposedCircuit {
    /// Builds the program: E(a) if `embed`, the blocks of `n_layers` layers each, E(dt·inj)
    /// with `dts[i]` if `inject = Some(i)`.
    pub fn new(
        n_qubits: usize,
        n_layers: usize,
        embed: bool,
        blocks: Vec<Block>,
        inject: Option<usize>,
    ) -> Self {
        let q = n_qubits;
        let per_block = 5 * q * n_layers;
        let mut prog = Program::empty(q);
        if embed {
            prog.push_ry_embedding(0);
        }
        for (b, blk) in blocks.iter().enumerate() {
            for l in 0..n_layers {
                let o = b * per_block + 5 * q * l;
                match blk.kind {
                    BlockKind::Unified => prog.push_unified_layer(o),
                    BlockKind::Backward => prog.push_backward_layer(o),
                };
            }
        }
        if inject.is_some() {
            prog.push_ry_embedding(if embed { q } else { 0 });
        }
        Self {
            prog,
            blocks,
            embed,
            inject,
            q,
            per_block,
        }
    }

    /// The compiled gate program.
    pub fn program(&self) -> &Program {
        &self.prog
    }

    /// Runs the circuit from |0…0⟩ and returns the saved state (final state in `psi`).
    pub fn forward(&self, inp: &CircuitInputs<'_>) -> CircuitRun {
        let (q, pb) = (self.q, self.per_block);
        let mut theta = vec![0.0f32; self.prog.n_theta];
        for (b, blk) in self.blocks.iter().enumerate() {
            let src = &inp.sources[blk.src][blk.offset..blk.offset + pb];
            let dst = &mut theta[b * pb..(b + 1) * pb];
            match blk.dt {
                Some(i) => scale_rotation_angles(src, q, inp.dts[i], dst),
                None => dst.copy_from_slice(src),
            }
        }
        let mut enc = Vec::with_capacity(self.prog.n_enc);
        if self.embed {
            enc.extend_from_slice(&inp.a[..q]);
        }
        if let Some(i) = self.inject {
            let dt = inp.dts[i];
            enc.extend(inp.inj[..q].iter().map(|&v| dt * v));
        }
        let mut psi = vec![Complex64::new(0.0, 0.0); self.prog.state_len()];
        psi[0] = Complex64::new(1.0, 0.0);
        apply_program(&self.prog, &theta, &enc, &mut psi);
        CircuitRun { theta, enc, psi }
    }

    /// Measures ⟨X⟩, ⟨Y⟩, ⟨Z⟩ of every wire of the final state → (3Q) in f32 (reference
    /// `.float()`).
    pub fn measure(&self, run: &CircuitRun) -> Vec<f32> {
        measure(&run.psi, self.q)
    }

    /// Backward from G (gradient w.r.t. the final state, kernels convention
    /// G = ∂L/∂Re ψ + i·∂L/∂Im ψ); **accumulates** into `grads`.
    pub fn backward(
        &self,
        inp: &CircuitInputs<'_>,
        run: &CircuitRun,
        g_psi: &[Complex64],
        grads: &mut CircuitGrads<'_>,
    ) {
        let (q, pb) = (self.q, self.per_block);
        let mut g = g_psi.to_vec();
        let mut dth = vec![0.0f64; self.prog.n_theta];
        let mut den = vec![0.0f64; self.prog.n_enc];
        let mut scratch = vec![Complex64::new(0.0, 0.0); self.prog.state_len()];
        apply_program_backward(
            &self.prog,
            &run.theta,
            &run.enc,
            &run.psi,
            &mut g,
            &mut dth,
            &mut den,
            &mut scratch,
        );
        for (b, blk) in self.blocks.iter().enumerate() {
            let src = &inp.sources[blk.src][blk.offset..blk.offset + pb];
            let d = &dth[b * pb..(b + 1) * pb];
            let dst = &mut grads.sources[blk.src][blk.offset..blk.offset + pb];
            match blk.dt {
                Some(i) => {
                    grads.dts[i] += scale_rotation_angles_backward(src, q, inp.dts[i], d, dst);
                }
                None => dst.iter_mut().zip(d).for_each(|(o, &v)| *o += v as f32),
            }
        }
        let mut o = 0;
        if self.embed {
            grads.a[..q]
                .iter_mut()
                .zip(&den[..q])
                .for_each(|(a, &v)| *a += v as f32);
            o = q;
        }
        if let Some(i) = self.inject {
            let dt = inp.dts[i];
            let dj = &den[o..o + q];
            let mut ddt = 0.0f64;
            for ((gi, &v), &inj) in grads.inj[..q].iter_mut().zip(dj).zip(&inp.inj[..q]) {
                *gi += (dt as f64 * v) as f32;
                ddt += inj as f64 * v;
            }
            grads.dts[i] += ddt;
        }
    }
}

/// ⟨X⟩, ⟨Y⟩, ⟨Z⟩ of every wire of ψ (3Q), cast to f32 as the reference's `.float()`.
pub fn measure(psi: &[Complex64], q: usize) -> Vec<f32> {
    let mut out = vec![0.0f64; 3 * q];
    expvals_xyz(psi, q, &mut out);
    out.iter().map(|&v| v as f32).collect()
}

/// Backward of [`measure`]: G (2^Q) = 2·Σ_k dq_k·O_k|ψ⟩ (a fresh vector).
pub fn measure_backward(psi: &[Complex64], q: usize, dq: &[f32]) -> Vec<Complex64> {
    let d: Vec<f64> = dq.iter().map(|&v| v as f64).collect();
    let mut g = vec![Complex64::new(0.0, 0.0); psi.len()];
    expvals_xyz_backward(psi, q, &d, &mut g);
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The 4c composition (E, U², D², Bk² × dt, D², E(dt·inj)): every gradient vs central
    /// finite differences of the f32-input loss Σ c·⟨O⟩.
    #[test]
    fn composed_circuit_backward_vs_finite_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let blocks = vec![
            Block {
                kind: BlockKind::Unified,
                src: 0,
                offset: 0,
                dt: None,
            },
            Block {
                kind: BlockKind::Unified,
                src: 0,
                offset: 60,
                dt: Some(0),
            },
            Block {
                kind: BlockKind::Backward,
                src: 1,
                offset: 0,
                dt: Some(1),
            },
            Block {
                kind: BlockKind::Unified,
                src: 1,
                offset: 60,
                dt: Some(2),
            },
        ];
        let cc = ComposedCircuit::new(6, 2, true, blocks, Some(0));
        assert_eq!(cc.program().n_gates(), 252);
        let mut r = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.gen_range(-1.5..1.5)).collect() };
        let (s0, s1, a, inj, c) = (r(120), r(120), r(6), r(6), r(18));
        let dts = vec![0.7f32, 0.4, 0.9];
        let loss = |s0: &[f32], s1: &[f32], dts: &[f32], a: &[f32], inj: &[f32]| -> f64 {
            let srcs = [s0, s1];
            let inp = CircuitInputs {
                sources: &srcs,
                dts,
                a,
                inj,
            };
            let run = cc.forward(&inp);
            let mut out = vec![0.0f64; 18];
            expvals_xyz(&run.psi, 6, &mut out);
            out.iter().zip(&c).map(|(o, &w)| o * w as f64).sum()
        };
        let srcs = [&s0[..], &s1[..]];
        let inp = CircuitInputs {
            sources: &srcs,
            dts: &dts,
            a: &a,
            inj: &inj,
        };
        let run = cc.forward(&inp);
        let g = measure_backward(&run.psi, 6, &c);
        let (mut d0, mut d1) = (vec![0.0f32; 120], vec![0.0f32; 120]);
        let (mut ddt, mut da, mut dinj) = (vec![0.0f64; 3], vec![0.0f32; 6], vec![0.0f32; 6]);
        {
            let mut ds: [&mut [f32]; 2] = [&mut d0, &mut d1];
            let mut grads = CircuitGrads {
                sources: &mut ds,
                dts: &mut ddt,
                a: &mut da,
                inj: &mut dinj,
            };
            cc.backward(&inp, &run, &g, &mut grads);
        }
        let h = 1e-2f32;
        let fd = |f: &dyn Fn(f32) -> f64| (f(h) - f(-h)) / (2.0 * h as f64);
        let mut worst = 0.0f64;
        let mut check = |an: f64, num: f64| worst = worst.max((an - num).abs());
        for k in (0..120).step_by(7) {
            let n0 = fd(&|e| {
                let mut v = s0.clone();
                v[k] += e;
                loss(&v, &s1, &dts, &a, &inj)
            });
            check(d0[k] as f64, n0);
            let n1 = fd(&|e| {
                let mut v = s1.clone();
                v[k] += e;
                loss(&s0, &v, &dts, &a, &inj)
            });
            check(d1[k] as f64, n1);
        }
        for i in 0..3 {
            let n = fd(&|e| {
                let mut v = dts.clone();
                v[i] += e;
                loss(&s0, &s1, &v, &a, &inj)
            });
            check(ddt[i], n);
        }
        for i in 0..6 {
            let na = fd(&|e| {
                let mut v = a.clone();
                v[i] += e;
                loss(&s0, &s1, &dts, &v, &inj)
            });
            check(da[i] as f64, na);
            let ni = fd(&|e| {
                let mut v = inj.clone();
                v[i] += e;
                loss(&s0, &s1, &dts, &a, &v)
            });
            check(dinj[i] as f64, ni);
        }
        eprintln!("composed circuit FD worst abs err {worst:.2e}");
        assert!(worst < 2e-3, "{worst}");
    }
}
