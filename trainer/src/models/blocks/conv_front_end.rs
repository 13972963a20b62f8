//! The group-4 front-end (spec groups-2-4 §3.6, reference `models/QuantumE2E.py`,
//! `models/QuantumE2E_Superposition.py`): x (C, T) → **Conv3** (`input_conv`,
//! `Conv1d(C→D, k=3, padding=1)`) → LayerNorm (`input_norm`) per sample → **ChunkPool(cs, h)**
//! (`chunk_attention`, zero pad rows at the end of time) ⇒ chunk summaries s (nc, D), nc = ⌈T/cs⌉.
//! No dropout anywhere in it.
//!
//! Conv3: `y[t, o] = b[o] + Σ_{c, k∈{0,1,2}} W[o, c, k]·x[c, t+k−1]`,
//! `x[c, −1] = x[c, T] = 0` (centred: a **one-sample look-ahead**, zero padding at both window
//! edges). It runs as an im2col (T, 3C) with column c·3+k = x[c, t+k−1] times W viewed as
//! (D, 3C) — exactly a Linear, so the kernels' `linear_forward`/`linear_backward` do the work.
//!
//! Registration order (= state_dict order): `input_conv.{weight,bias}` (D, C, 3), (D)
//! [init U(±1/√(3C)), PyTorch's default, fan_in = 3C]; `input_norm.{weight,bias}` (D);
//! `chunk_attention.{0,2}.*` (h, D), (h), (1, h), (1).
use super::attention_pool::{AttentionPool, AttentionPoolCache};
use super::norm::{LayerNorm, NormCache};
use crate::params::{default_uniform, disjoint_mut, ParamLayout};
use qssm_kernels::ops::linear::{linear_backward, linear_forward};
use std::ops::Range;

/// Conv3 → LayerNorm → ChunkPool(cs, h).
#[derive(Clone, Debug)]
pub struct ConvFrontEnd {
    w: Range<usize>,
    b: Range<usize>,
    norm: LayerNorm,
    pool: AttentionPool,
    c: usize,
    d: usize,
    cs: usize,
}

/// Activations of a [`ConvFrontEnd`] forward (one sample).
#[derive(Clone, Debug, Default)]
pub struct ConvFrontEndCache {
    /// im2col of the input (T, 3C)
    cols: Vec<f32>,
    /// Conv3 output, token-major (T, D)
    pub conv: Vec<f32>,
    /// LayerNorm output (T, D)
    pub normed: Vec<f32>,
    ln: NormCache,
    /// chunk pooling activations (scores, weights, padded rows)
    pub pool: AttentionPoolCache,
    t: usize,
}

impl ConvFrontEnd {
    /// Registers `input_conv` (C → D, k = 3), `input_norm` (D) and `chunk_attention` (D → h → 1)
    /// for chunks of `cs` samples.
    pub fn new(lay: &mut ParamLayout, c: usize, d: usize, cs: usize, h: usize) -> Self {
        let init = default_uniform(3 * c);
        let w = lay.add("input_conv.weight", &[d, c, 3], init);
        let b = lay.add("input_conv.bias", &[d], init);
        let norm = LayerNorm::new(lay, "input_norm", d);
        let pool = AttentionPool::new(lay, "chunk_attention", d, h);
        Self {
            w,
            b,
            norm,
            pool,
            c,
            d,
            cs,
        }
    }

    /// Chunk size cs.
    pub fn chunk_size(&self) -> usize {
        self.cs
    }

    /// Number of chunks nc = ⌈T/cs⌉.
    pub fn n_chunks(&self, t: usize) -> usize {
        t.div_ceil(self.cs)
    }

    /// x (C, T) channel-major → chunk summaries s (nc, D).
    pub fn forward(&self, p: &[f32], x: &[f32], t: usize, k: &mut ConvFrontEndCache) -> Vec<f32> {
        let (c, d) = (self.c, self.d);
        let kc = 3 * c;
        assert!(x.len() >= c * t, "ConvFrontEnd: x must hold C·T samples");
        k.t = t;
        k.cols = vec![0.0; t * kc];
        for ci in 0..c {
            let xc = &x[ci * t..(ci + 1) * t];
            for ti in 0..t {
                let row = &mut k.cols[ti * kc + 3 * ci..ti * kc + 3 * ci + 3];
                if ti > 0 {
                    row[0] = xc[ti - 1];
                }
                row[1] = xc[ti];
                if ti + 1 < t {
                    row[2] = xc[ti + 1];
                }
            }
        }
        k.conv = vec![0.0; t * d];
        linear_forward(
            &mut k.conv,
            &k.cols,
            &p[self.w.clone()],
            Some(&p[self.b.clone()]),
            t,
            kc,
            d,
        );
        k.normed = vec![0.0; t * d];
        self.norm.forward(p, &k.conv, t, &mut k.normed, &mut k.ln);
        self.pool.forward(p, &k.normed, t, self.cs, &mut k.pool)
    }

    /// Accumulates parameter gradients from ds (nc, D) (the input needs no gradient).
    pub fn backward(&self, p: &[f32], g: &mut [f32], k: &ConvFrontEndCache, ds: &[f32]) {
        let (t, d) = (k.t, self.d);
        let mut dnormed = vec![0.0; t * d];
        self.pool.backward(p, g, &k.pool, ds, &mut dnormed);
        let mut dconv = vec![0.0; t * d];
        self.norm
            .backward(p, g, &k.conv, &dnormed, t, &k.ln, &mut dconv);
        let (dw, db) = disjoint_mut(g, self.w.clone(), self.b.clone());
        linear_backward(
            None,
            dw,
            Some(db),
            &dconv,
            &k.cols,
            &p[self.w.clone()],
            t,
            3 * self.c,
            d,
        );
    }

    /// Named eval intermediates, reference names (`act.*` of the fixtures): `input_conv`
    /// (D, T) channel-major as `nn.Conv1d` returns it, `input_norm` (T, D), `chunk_attention.0`
    /// (nc·cs, h) pre-tanh, `.1` tanh, `.2` and `chunk_attention` the scores (nc·cs, 1).
    pub fn trace(&self, p: &[f32], k: &ConvFrontEndCache) -> Vec<(String, Vec<f32>)> {
        let (t, d) = (k.t, self.d);
        let mut conv_cm = vec![0.0; t * d];
        for ti in 0..t {
            for o in 0..d {
                conv_cm[o * t + ti] = k.conv[ti * d + o];
            }
        }
        vec![
            ("input_conv".into(), conv_cm),
            ("input_norm".into(), k.normed.clone()),
            ("chunk_attention.0".into(), self.pool.hidden_pre(p, &k.pool)),
            ("chunk_attention.1".into(), k.pool.t1.clone()),
            ("chunk_attention.2".into(), k.pool.scores.clone()),
            ("chunk_attention".into(), k.pool.scores.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Conv3 via im2col equals the direct convolution formula (zero edges, look-ahead of one).
    #[test]
    fn conv3_matches_direct_formula() {
        let (c, d, t) = (5, 8, 11);
        let mut lay = ParamLayout::new();
        let fe = ConvFrontEnd::new(&mut lay, c, d, 4, 2);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let p = lay.init(&mut rng);
        let x: Vec<f32> = (0..c * t).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let mut k = ConvFrontEndCache::default();
        fe.forward(&p, &x, t, &mut k);
        let (w, b) = (&p[fe.w.clone()], &p[fe.b.clone()]);
        let xat = |ci: usize, ti: isize| -> f64 {
            if ti < 0 || ti >= t as isize {
                0.0
            } else {
                x[ci * t + ti as usize] as f64
            }
        };
        let mut worst = 0.0f64;
        for ti in 0..t {
            for o in 0..d {
                let mut y = b[o] as f64;
                for ci in 0..c {
                    for kk in 0..3 {
                        y += w[(o * c + ci) * 3 + kk] as f64
                            * xat(ci, ti as isize + kk as isize - 1);
                    }
                }
                worst = worst.max((y - k.conv[ti * d + o] as f64).abs());
            }
        }
        assert!(worst < 1e-5, "{worst}");
    }

    /// Parameter gradients vs central finite differences of Σ c·s.
    #[test]
    fn front_end_backward_vs_finite_differences() {
        let (c, d, t) = (3, 8, 10);
        let mut lay = ParamLayout::new();
        let fe = ConvFrontEnd::new(&mut lay, c, d, 4, 2);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut p = lay.init(&mut rng);
        // non-trivial LayerNorm affine
        for v in p.iter_mut() {
            *v += rng.gen_range(-0.2..0.2);
        }
        let x: Vec<f32> = (0..c * t).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let nc = fe.n_chunks(t);
        let wts: Vec<f32> = (0..nc * d).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let loss = |p: &[f32]| -> f64 {
            let s = fe.forward(p, &x, t, &mut ConvFrontEndCache::default());
            s.iter().zip(&wts).map(|(a, b)| (a * b) as f64).sum()
        };
        let mut k = ConvFrontEndCache::default();
        fe.forward(&p, &x, t, &mut k);
        let mut g = vec![0.0f32; p.len()];
        fe.backward(&p, &mut g, &k, &wts);
        let h = 1e-2f32;
        let mut worst = 0.0f64;
        for i in (0..p.len()).step_by(5) {
            let v = p[i];
            p[i] = v + h;
            let lp = loss(&p);
            p[i] = v - h;
            let lm = loss(&p);
            p[i] = v;
            let fd = (lp - lm) / (2.0 * h as f64);
            worst = worst.max((fd - g[i] as f64).abs());
        }
        assert!(worst < 2e-3, "{worst}");
    }
}
