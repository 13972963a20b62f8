//! A Linear followed by a bounded elementwise map, the per-chunk angle and step-size heads of
//! the group-4 models (spec groups-2-4 §2.5, §3.7–3.11; reference `models/QuantumE2E.py`,
//! `models/QuantumE2E_Superposition.py`):
//!
//! * [`AngleMap::PiTanh`]: `torch.tanh(lin(s)) * np.pi` — `encoding_proj` (embedding angles a)
//!   and `input_injection_proj` (injection angles inj), in (−π, π) rad; π rounded to f32 as
//!   torch multiplies an f32 tensor by a Python float;
//! * [`AngleMap::Sigmoid`]: `torch.sigmoid(lin(s))` — `dt_proj` (rotation scales dt ∈ (0, 1)).
//!
//! Rows: s (L, D) → raw (L, O) (the Linear output, the reference's `act.<name>`) → out (L, O).
use super::linear::Linear;
use crate::params::ParamLayout;
use qssm_kernels::ops::activation::tanh_forward;

/// The elementwise map after the Linear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AngleMap {
    /// π·tanh(x)
    PiTanh,
    /// σ(x) = 1/(1+e^{−x})
    Sigmoid,
}

/// `<name>` Linear(D→O) → [`AngleMap`].
#[derive(Clone, Debug)]
pub struct AngleProj {
    lin: Linear,
    map: AngleMap,
}

/// Activations of an [`AngleProj`] forward.
#[derive(Clone, Debug, Default)]
pub struct AngleProjOut {
    /// Linear output (L, O)
    pub raw: Vec<f32>,
    /// mapped output (L, O): angles in rad or scales
    pub out: Vec<f32>,
    /// tanh(raw) for [`AngleMap::PiTanh`], σ(raw) for [`AngleMap::Sigmoid`] (L, O)
    act: Vec<f32>,
}

impl AngleProj {
    /// Registers `<name>.{weight,bias}` (O, D), (O) with PyTorch's default init.
    pub fn new(lay: &mut ParamLayout, name: &str, d: usize, o: usize, map: AngleMap) -> Self {
        Self {
            lin: Linear::new(lay, name, d, o, true),
            map,
        }
    }

    /// Output width O.
    pub fn width(&self) -> usize {
        self.lin.d_out
    }

    /// s (L, D) → raw and mapped outputs (L, O).
    pub fn forward(&self, p: &[f32], s: &[f32], l: usize) -> AngleProjOut {
        let raw = self.lin.apply(p, s, l);
        let mut act = vec![0.0; raw.len()];
        let out = match self.map {
            AngleMap::PiTanh => {
                tanh_forward(&mut act, &raw);
                act.iter().map(|&t| t * std::f32::consts::PI).collect()
            }
            AngleMap::Sigmoid => {
                act.iter_mut()
                    .zip(&raw)
                    .for_each(|(a, &x)| *a = 1.0 / (1.0 + (-x).exp()));
                act.clone()
            }
        };
        AngleProjOut { raw, out, act }
    }

    /// Backward from d out (L, O): accumulates the Linear's parameter gradients into `g` and
    /// ds (L, D).
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        s: &[f32],
        o: &AngleProjOut,
        dout: &[f32],
        l: usize,
        ds: &mut [f32],
    ) {
        let draw: Vec<f32> = match self.map {
            AngleMap::PiTanh => dout
                .iter()
                .zip(&o.act)
                .map(|(&d, &t)| d * std::f32::consts::PI * (1.0 - t * t))
                .collect(),
            AngleMap::Sigmoid => dout
                .iter()
                .zip(&o.act)
                .map(|(&d, &y)| d * y * (1.0 - y))
                .collect(),
        };
        self.lin.backward(p, g, s, &draw, l, Some(ds));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn angle_proj_backward_vs_finite_differences() {
        for map in [AngleMap::PiTanh, AngleMap::Sigmoid] {
            let (d, o, l) = (5, 3, 4);
            let mut lay = ParamLayout::new();
            let ap = AngleProj::new(&mut lay, "x", d, o, map);
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let p = lay.init(&mut rng);
            let mut s: Vec<f32> = (0..l * d).map(|_| rng.gen_range(-2.0..2.0)).collect();
            let w: Vec<f32> = (0..l * o).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let loss = |s: &[f32]| -> f64 {
                let out = ap.forward(&p, s, l);
                out.out.iter().zip(&w).map(|(a, b)| (a * b) as f64).sum()
            };
            let fo = ap.forward(&p, &s, l);
            let mut g = vec![0.0; p.len()];
            let mut ds = vec![0.0; l * d];
            ap.backward(&p, &mut g, &s, &fo, &w, l, &mut ds);
            let h = 1e-2f32;
            for i in 0..s.len() {
                let v = s[i];
                s[i] = v + h;
                let lp = loss(&s);
                s[i] = v - h;
                let lm = loss(&s);
                s[i] = v;
                let fd = (lp - lm) / (2.0 * h as f64);
                assert!(
                    (fd - ds[i] as f64).abs() < 2e-3,
                    "{map:?} {i}: {fd} vs {}",
                    ds[i]
                );
            }
        }
    }
}
