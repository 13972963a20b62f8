//! Inverted dropout (PyTorch `nn.Dropout`): in training, zero each element with probability
//! `p` and scale the rest by 1/(1−p); identity in eval. The mask is drawn from a per-sample
//! ChaCha8 stream so that a training run is reproducible bit for bit.
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Dropout with probability `p`.
#[derive(Clone, Copy, Debug)]
pub struct Dropout {
    /// drop probability
    pub p: f32,
}

impl Dropout {
    /// Applies dropout in place when `rng` is given (training) and returns the mask
    /// (0 or 1/(1−p) per element; empty in eval).
    pub fn forward(&self, x: &mut [f32], rng: Option<&mut ChaCha8Rng>) -> Vec<f32> {
        match rng {
            Some(rng) if self.p > 0.0 => {
                let keep = 1.0 / (1.0 - self.p);
                let mask: Vec<f32> = x
                    .iter()
                    .map(|_| if rng.gen::<f32>() < self.p { 0.0 } else { keep })
                    .collect();
                x.iter_mut().zip(&mask).for_each(|(v, m)| *v *= m);
                mask
            }
            _ => Vec::new(),
        }
    }

    /// Backward in place: `dx = dy ⊙ mask` (identity if the mask is empty).
    pub fn backward(&self, d: &mut [f32], mask: &[f32]) {
        if !mask.is_empty() {
            d.iter_mut().zip(mask).for_each(|(v, m)| *v *= m);
        }
    }
}
