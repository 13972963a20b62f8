//! Parameter groups (PyTorch's `param_groups`): disjoint sets of tensors of one flat buffer,
//! each with its own learning rate and weight decay, stepped by one optimiser
//! ([`super::AdamW::step_groups`]). The HQC Mamba's recipe (spec hqc-mamba-and-quantum-train
//! §3.6) trains its `in_proj`, `x_proj`, `out_proj` and the rest at different rates.
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// One parameter group: its elements (ascending, disjoint ranges of the flat buffer), its
/// learning rate (at the schedule's base; a schedule scales every group alike) and its
/// weight decay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamGroup {
    /// name (`in_proj`, `other`, …)
    pub name: String,
    /// its elements
    pub ranges: Vec<Range<usize>>,
    /// learning rate at the schedule's base rate
    pub lr: f64,
    /// weight decay (decoupled in AdamW)
    pub weight_decay: f64,
}

/// The elements of `ranges` that lie in `active` (both ascending and disjoint), ascending.
pub fn intersect(ranges: &[Range<usize>], active: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    for r in ranges {
        for a in active {
            let (s, e) = (r.start.max(a.start), r.end.min(a.end));
            if s < e {
                out.push(s..e);
            }
        }
    }
    out.sort_by_key(|r| r.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersect_keeps_the_common_elements_in_order() {
        assert_eq!(
            intersect(&[0..4, 10..20], &[2..12, 15..16, 30..40]),
            vec![2..4, 10..12, 15..16]
        );
        assert!(intersect(&[0..4, 9..9], &[4..8, 8..9]).is_empty());
    }
}
