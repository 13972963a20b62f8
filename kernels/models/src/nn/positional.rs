//! Sinusoidal positional encoding of 1a and 3a (reference `_create_positional_encoding` in
//! `models/QuantumTransformer.py` and `models/ClassicalTransformer.py`; spec
//! circuits-and-groups-1-3 §3.2): `PE[p, 2j] = sin(p·ω_j)`, `PE[p, 2j+1] = cos(p·ω_j)`,
//! `ω_j = exp(2j·(−ln 10000 / D))`, computed in f32 like the reference.
//!
//! The table is the state_dict entry `pos_encoding` (1, max_len, D), an
//! `nn.Parameter(requires_grad=False)`: stored, exported and counted in `n_params`, never
//! trained ([`Init::Sinusoidal`] fills it and keeps it out of the optimiser). Because it is a
//! parameter, checkpoints carry the table they were trained with; the forward reads it from
//! the buffer.
use crate::params::{Init, ParamLayout};
use crate::prelude::*;
use core::ops::Range;
use qssm_kernels::backend::Infer;

/// Fills `v` = (1, max_len, D) row-major (row p = position p) with the sinusoidal table.
/// Every f32 operation mirrors the reference:
/// `div_term = exp(f32(2j) · f32(−ln 10000 / D))`, `angle = f32(p) · div_term`,
/// `sin`/`cos` of the f32 angle.
pub fn fill_sinusoidal(v: &mut [f32], d: usize) {
    if d == 0 {
        return;
    }
    let c = (-ln(10000.0) / d as f64) as f32;
    let div: Vec<f32> = (0..d.div_ceil(2))
        .map(|j| exp((2 * j) as f32 * c))
        .collect();
    for (pos, row) in v.chunks_exact_mut(d).enumerate() {
        let pf = pos as f32;
        for (j, &w) in div.iter().enumerate() {
            let a = pf * w;
            row[2 * j] = sin(a);
            if 2 * j + 1 < d {
                row[2 * j + 1] = cos(a);
            }
        }
    }
}

// The platform's math with `std` (the values the parity fixtures were matched with: glibc's
// `sinf` of an angle of a few hundred radians differs from `libm`'s by up to 4e-6), `libm`'s
// without (the engine on a microcontroller).
#[cfg(feature = "std")]
fn ln(x: f64) -> f64 {
    x.ln()
}
#[cfg(feature = "std")]
fn exp(x: f32) -> f32 {
    x.exp()
}
#[cfg(feature = "std")]
fn sin(x: f32) -> f32 {
    x.sin()
}
#[cfg(feature = "std")]
fn cos(x: f32) -> f32 {
    x.cos()
}
#[cfg(not(feature = "std"))]
use libm::{cosf as cos, expf as exp, log as ln, sinf as sin};

/// The frozen `pos_encoding` table (1, max_len, D), added to the first L ≤ max_len tokens.
#[derive(Clone, Debug)]
pub struct PositionalEncoding {
    range: Range<usize>,
    max_len: usize,
}

impl PositionalEncoding {
    /// Registers `name` (the reference's `pos_encoding`) as (1, max_len, D), frozen.
    pub fn new(lay: &mut ParamLayout, name: &str, max_len: usize, d: usize) -> Self {
        let range = lay.add(name, &[1, max_len, d], Init::Sinusoidal);
        Self { range, max_len }
    }

    /// Table length (max_len).
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// x (B, L, D) += PE\[:L\] in place (every sample). The backward is the identity (the table is frozen): the
    /// caller passes dh through unchanged.
    ///
    /// # Panics
    /// If L > max_len (the reference fails the same way: its table is sized at construction).
    pub fn add<B: Infer>(&self, be: &B, p: &B::Params, x: &mut B::Buf) {
        let l = be.shape(x)[1];
        assert!(
            l <= self.max_len,
            "positional encoding: sequence length {l} exceeds the table ({})",
            self.max_len
        );
        be.add_table_rows(x, p, self.range.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_formula() {
        let (len, d) = (50, 16);
        let mut v = vec![0.0f32; len * d];
        fill_sinusoidal(&mut v, d);
        for p in 0..len {
            for j in 0..d / 2 {
                let w = (2.0 * j as f64 * (-(10000.0f64).ln() / d as f64)).exp();
                let a = p as f64 * w;
                assert!((v[p * d + 2 * j] as f64 - a.sin()).abs() < 2e-5);
                assert!((v[p * d + 2 * j + 1] as f64 - a.cos()).abs() < 2e-5);
            }
        }
        assert_eq!(&v[..4], &[0.0, 1.0, 0.0, 1.0]);
    }

    #[test]
    fn init_fills_and_freezes() {
        use rand::SeedableRng;
        let mut lay = ParamLayout::new();
        let pe = PositionalEncoding::new(&mut lay, "pos_encoding", 7, 8);
        let w = lay.add("w", &[3], Init::Const(1.0));
        let p = lay.init(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
        let mut want = vec![0.0f32; 7 * 8];
        fill_sinusoidal(&mut want, 8);
        assert_eq!(&p[..56], &want[..]);
        assert_eq!(lay.trainable_ranges(), vec![w]);
        assert!(!lay.get("pos_encoding").unwrap().receives_grad());
        let mut h = qssm_kernels::backend::cpu::CpuBuf::from_vec(vec![1.0f32; 2 * 8], &[1, 2, 8]);
        pe.add(&qssm_kernels::backend::cpu::Cpu, &p, &mut h);
        assert_eq!(h.as_slice()[1], 2.0);
        assert_eq!(h.as_slice()[8], 1.0 + want[8]);
        assert_eq!(pe.max_len(), 7);
    }
}
