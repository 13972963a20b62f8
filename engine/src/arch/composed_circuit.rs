//! Composed circuits of the chunked quantum models 4a–4e (spec groups-2-4 §2.2:
//! E(a) embedding, two-layer blocks of U, D (dt-scaled) or Bk layers, optional input injection
//! E(dt·inj); reference `models/QuantumE2E.py`), compiled at load
//! into a kernels [`Program`] and run from |0…0⟩ without allocation; plus the card checks
//! every such model shares ([`check_card`]).
use super::circuit_card::{check_circuit, AnsatzRule};
use crate::error::EngineError;
use alloc::format;
use alloc::vec::Vec;
use num_complex::Complex64;
use qssm_formats::model_file::ModelCard;
use qssm_kernels::circuit::{apply_program, scale_rotation_angles, Program};

/// π as f32: angles are π·tanh(·).
pub(super) const PI_F32: f32 = core::f32::consts::PI;

/// Checks what every chunked-circuit model needs of its card: D ≥ 4 (attention width
/// D/4 ≥ 1) and the circuit checks of [`check_circuit`] for `n_blocks` two-layer blocks and
/// chunk size `chunk`. Returns (Q, L, 5Q·L).
///
/// Errors: [`EngineError::Mismatch`] naming the model `id` and the offending value.
pub(super) fn check_card(
    id: &str,
    card: &ModelCard,
    n_blocks: usize,
    chunk: usize,
) -> Result<(usize, usize, usize), EngineError> {
    let d = card.hyperparameters.d_model;
    if d < 4 {
        return Err(EngineError::Mismatch {
            what: format!("{id} needs d_model ≥ 4 (attention width D/4 ≥ 1), card has {d}"),
        });
    }
    check_circuit(id, card, n_blocks, chunk, AnsatzRule::Any)
}

/// One block of L layers of a composed circuit: its 5Q·L angles start at `at` in the chunk's
/// projection buffer; `backward` = Bk layers (else U/D); `dt`: rotation angles × dts\[i\].
#[derive(Clone, Copy, Debug)]
pub(super) struct BlockSpec {
    pub(super) at: usize,
    pub(super) backward: bool,
    pub(super) dt: Option<usize>,
}

/// A composed circuit E(a) · blocks · [E(dt·inj)], compiled at load.
#[derive(Clone, Debug)]
pub(super) struct Circuit {
    prog: Program,
    blocks: Vec<BlockSpec>,
    inject: Option<usize>,
}

impl Circuit {
    pub(super) fn new(
        q: usize,
        layers: usize,
        blocks: Vec<BlockSpec>,
        inject: Option<usize>,
    ) -> Self {
        let pb = 5 * q * layers;
        let mut prog = Program::empty(q);
        prog.push_ry_embedding(0);
        for (b, blk) in blocks.iter().enumerate() {
            for l in 0..layers {
                let o = b * pb + 5 * q * l;
                if blk.backward {
                    prog.push_backward_layer(o);
                } else {
                    prog.push_unified_layer(o);
                }
            }
        }
        if inject.is_some() {
            prog.push_ry_embedding(q);
        }
        Self {
            prog,
            blocks,
            inject,
        }
    }

    /// Runs the circuit from |0…0⟩ into `psi`: θ gathered (and dt-scaled) from `proj` into
    /// `theta`, the encoding angles [a, dt·inj] into `enc`. No allocation.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run(
        &self,
        pb: usize,
        proj: &[f32],
        ang: &Angles<'_>,
        theta: &mut [f32],
        enc: &mut [f32],
        psi: &mut [Complex64],
    ) {
        let q = self.prog.n_qubits;
        for (b, blk) in self.blocks.iter().enumerate() {
            let src = &proj[blk.at..blk.at + pb];
            let dst = &mut theta[b * pb..(b + 1) * pb];
            match blk.dt {
                Some(i) => scale_rotation_angles(src, q, ang.dts[i], dst),
                None => dst.copy_from_slice(src),
            }
        }
        enc[..q].copy_from_slice(&ang.a[..q]);
        if let Some(i) = self.inject {
            let dt = ang.dts[i];
            enc[q..2 * q]
                .iter_mut()
                .zip(&ang.inj[..q])
                .for_each(|(o, &v)| *o = dt * v);
        }
        psi.fill(Complex64::new(0.0, 0.0));
        psi[0] = Complex64::new(1.0, 0.0);
        apply_program(
            &self.prog,
            &theta[..self.prog.n_theta],
            &enc[..self.prog.n_enc],
            psi,
        );
    }
}

/// The per-chunk angle heads' outputs.
pub(super) struct Angles<'a> {
    pub(super) a: &'a [f32],
    pub(super) dts: &'a [f32],
    pub(super) inj: &'a [f32],
}
