//! Full-window classification: one (C, T) window in, logits + softmax probabilities + class
//! out ([`Model::classify_window`]). Works for every supported model (streaming, for the
//! causal ones, is [`crate::stream`]).
use crate::error::EngineError;
use crate::model::{Form, Model};
use alloc::vec;
use alloc::vec::Vec;
use qssm_kernels::ops::loss::cross_entropy_forward;

/// The result of classifying one window.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// raw model outputs (n_classes)
    pub logits: Vec<f32>,
    /// softmax of the logits (n_classes), sums to 1
    pub probabilities: Vec<f32>,
    /// index of the largest logit (the first one on ties)
    pub class: usize,
}

impl Model {
    /// Classifies one window `x` of C·T values, **channel-major** (`x[c·T + t]` = channel c
    /// in card order, sample t), in the card's unit (`input.unit`; millivolts for the reference
    /// models), eval mode (dropout = identity). Same math as the trainer's `forward_eval`.
    ///
    /// Errors: [`EngineError::WrongInputLength`] if `x.len() ≠ C·T`;
    /// [`EngineError::NonFiniteInput`] at the first NaN/±∞ (channel, sample);
    /// [`EngineError::NonFiniteOutput`] if the logits overflow. Never panics.
    ///
    /// Allocates the window's activations (O(T·E) floats, plus (16+1)·E·N scan states).
    pub fn classify_window(&self, x: &[f32]) -> Result<Prediction, EngineError> {
        let (c, t) = (self.n_channels(), self.n_times());
        let expected = c * t;
        if x.len() != expected {
            return Err(EngineError::WrongInputLength {
                expected,
                found: x.len(),
            });
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(EngineError::NonFiniteInput {
                channel: i / t,
                sample: i % t,
            });
        }
        let logits = match &self.form {
            Form::Shared { desc, .. } => desc.logits(x),
            // an own form is a window model's (the Quantum-Train CNNs)
            Form::Own(arch) => arch
                .logits(x, c, t)
                .unwrap_or_else(|| vec![f32::NAN; self.n_classes()]),
        };
        if let Some(index) = logits.iter().position(|v| !v.is_finite()) {
            return Err(EngineError::NonFiniteOutput { index });
        }
        let mut probabilities = vec![0.0; logits.len()];
        // softmax (max-shifted); the loss value for class 0 is not needed
        let _ = cross_entropy_forward(&mut probabilities, &logits, 0);
        let class = argmax(&logits);
        Ok(Prediction {
            logits,
            probabilities,
            class,
        })
    }
}

/// Index of the first largest value (finite input).
pub(crate) fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}
