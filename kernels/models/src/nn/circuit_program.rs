//! Circuits composed of the reference's layer macros (spec groups-2-4 §2.2, §2.5), compiled
//! once into a gate [`Program`] that [`qssm_kernels::backend::Infer::circuit`] runs for every
//! row: an optional RY embedding E(a), a sequence of L-layer blocks — unified U^L,
//! Δ-modulated D^L (rotation angles × dt) or backward Bk^L (optionally × dt) — each taking the
//! next 5Q·L angles of θ, and an optional input injection E(dt·inj) at the end.
//!
//! Examples (Q = 6, L = 2): 4b = E(a)·U²(F)·D²(Mx; dt)·E(dt·inj);
//! 4c = E(a)·U²(F)·D²(Pf; dt_f)·Bk²(Pb; dt_b)·D²(Pd; dt_d)·E(dt_f·inj);
//! 2b step = E(h)·D²(P; ds)·E(ds·u); 2d branches E(a)·D²(Pf; dt), E(a)·Bk²(Pb; dt), E(a)·U²(Pd).
//!
//! The Δ-modulation is not part of the program: the models scale the rotation angles of a
//! block by its dt with [`qssm_kernels::backend::Infer::scale_segments`] (f32 products, as
//! torch formed them) before the circuit runs; [`Block::dt`] records which dt scales a block.
use qssm_kernels::circuit::Program;

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
    /// `Some(i)`: rotation angles multiplied by the i-th dt of the model (D / scaled Bk)
    pub dt: Option<usize>,
}

/// The gate program: E(e\[0..Q\]) if `embed`, the blocks of `n_layers` layers each (block b
/// reads θ\[b·5QL..(b+1)·5QL\]), and E(e\[Q..2Q\]) (or e\[0..Q\] without embedding) if
/// `inject`.
pub fn composed_program(
    n_qubits: usize,
    n_layers: usize,
    embed: bool,
    blocks: &[Block],
    inject: bool,
) -> Program {
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
    if inject {
        prog.push_ry_embedding(if embed { q } else { 0 });
    }
    prog
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One unified block with an embedding is the unified ansatz with RY embedding; the
    /// injection adds Q encoding angles after the blocks.
    #[test]
    fn composed_programs_match_the_ansatz() {
        let u = Block {
            kind: BlockKind::Unified,
            dt: None,
        };
        assert_eq!(
            composed_program(4, 2, true, &[u], false),
            Program::unified_ansatz(4, 2, true)
        );
        let p = composed_program(4, 2, true, &[u, u], true);
        assert_eq!((p.n_theta, p.n_enc), (2 * 5 * 4 * 2, 8));
        assert_eq!(p.n_gates(), 8 + 2 * 5 * 4 * 2);
    }
}
