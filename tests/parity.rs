//! Reference parity: our CPU models against the golden outputs of the published reference
//! implementation (`shared/fixtures/reference/<id>.safetensors`, see its README): eval and
//! train logits, every `act.*` intermediate, the loss, every gradient and three AdamW steps.
//!
//! Tolerances (issue #2): logits ≤ 1e-5 abs; activations ≤ 1e-5 × their max-abs; loss ≤ 1e-5;
//! every gradient within 1e-3 × that tensor's max |grad|; AdamW-step losses ≤ 1e-4.
use qssm_trainer::models::{registry, ModelConfig};

qssm_tests::parity_suite!(
    fixture_1b: "1b",
    fixture_1b_bigdt: "1b_bigdt",
    fixture_3b: "3b",
    fixture_3b_bigdt: "3b_bigdt",
);

#[test]
fn parameter_counts_match_the_spec() {
    for t in [125, 249, 497] {
        for (id, n) in [("1b", 429_795), ("3b", 241_922)] {
            let m = registry::build(id, ModelConfig::eeg(t)).unwrap();
            assert_eq!(m.layout().len(), n, "{id} at T={t}");
        }
    }
}
