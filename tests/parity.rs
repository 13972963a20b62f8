//! Reference parity: our CPU models against the golden outputs of the published reference
//! implementation (`shared/fixtures/reference/<id>.safetensors`, see its README): eval and
//! train logits, every `act.*` intermediate, the loss, every gradient and three AdamW steps.
//!
//! Tolerances (issue #2): logits ≤ 1e-5 abs; activations ≤ 1e-5 × their max-abs; loss ≤ 1e-5;
//! every gradient within 1e-3 × that tensor's max |grad|; AdamW-step losses ≤ 1e-4.
use qssm_tests::parity_check::{check_adamw, check_forward, check_gradients};
use qssm_trainer::models::{registry, ModelConfig};

#[test]
fn forward_1b() {
    check_forward("1b");
}
#[test]
fn forward_1b_bigdt() {
    check_forward("1b_bigdt");
}
#[test]
fn forward_3b() {
    check_forward("3b");
}
#[test]
fn forward_3b_bigdt() {
    check_forward("3b_bigdt");
}
#[test]
fn gradients_1b() {
    check_gradients("1b");
}
#[test]
fn gradients_1b_bigdt() {
    check_gradients("1b_bigdt");
}
#[test]
fn gradients_3b() {
    check_gradients("3b");
}
#[test]
fn gradients_3b_bigdt() {
    check_gradients("3b_bigdt");
}

#[test]
fn parameter_counts_match_the_spec() {
    for t in [125, 249, 497] {
        for (id, n) in [("1b", 429_795), ("3b", 241_922)] {
            let m = registry::build(id, ModelConfig::eeg(t)).unwrap();
            assert_eq!(m.layout().len(), n, "{id} at T={t}");
        }
    }
}

#[test]
fn adamw_steps_1b() {
    check_adamw("1b");
}
#[test]
fn adamw_steps_1b_bigdt() {
    check_adamw("1b_bigdt");
}
#[test]
fn adamw_steps_3b() {
    check_adamw("3b");
}
#[test]
fn adamw_steps_3b_bigdt() {
    check_adamw("3b_bigdt");
}
