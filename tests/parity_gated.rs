//! Reference parity of the gated models `mg` (QuantumMambaGated) and `hg` (QuantumHydraGated),
//! reference `models/QuantumGatedRecurrence.py`, spec gated-and-protocols §1:
//!
//! * the fixtures `shared/fixtures/reference/{mg,hg}.safetensors` (B=2, C=F=64, T=90, n=6,
//!   2 circuit layers, H=64, chunk 16, unified ansatz): eval and train logits, every `act.*`,
//!   loss, every gradient and three AdamW steps, with the tolerances of issue #2 (logits ≤ 1e-5
//!   abs; activations ≤ 1e-5 × max-abs; loss ≤ 1e-5; gradients ≤ 1e-3 × max |grad|; AdamW
//!   losses ≤ 1e-4);
//! * the small-model goldens of `shared/spec/gated-golden/gated-small.json` (n=3, 2 layers, F=5,
//!   T=11, chunk 4 → chunks 4, 4, 3, H=6, O=2: state dict, input, intermediate states, logits);
//! * the parameter counts of spec §1.10 for both ansätze.
use qssm_tests::{max_abs_diff, shared_dir};
use qssm_trainer::models::{registry, AnsatzKind, Model, ModelConfig};
use serde_json::Value;

qssm_tests::parity_suite!(
    fixture_mg: "mg",
    fixture_hg: "hg",
);

/// A gated-model configuration (n qubits, 2 circuit layers, H = 64, chunk 8).
fn gated_cfg(f: usize, o: usize, n: usize, ansatz: AnsatzKind) -> ModelConfig {
    ModelConfig {
        n_channels: f,
        n_qubits: n,
        n_classes: o,
        ansatz,
        ..ModelConfig::eeg(249)
    }
}

#[test]
fn parameter_counts_match_the_spec() {
    use AnsatzKind::{Legacy4, Unified5};
    // spec §1.10 (numel, each complex scalar counted once): EEG for every window length
    for t in [125, 249, 497] {
        for (id, ansatz, n) in [
            ("mg", Unified5, 54_704),
            ("hg", Unified5, 109_903),
            ("mg", Legacy4, 52_328),
            ("hg", Legacy4, 102_775),
        ] {
            let cfg = ModelConfig {
                ansatz,
                ..ModelConfig::eeg(t)
            };
            let m = registry::build(id, cfg).unwrap();
            assert_eq!(m.layout().n_params(), n, "{id} {ansatz:?} at T={t}");
        }
    }
    // hg stores its three complex scalars as (re, im) pairs: 109,906 reals
    let hg = registry::build("hg", ModelConfig::eeg(249)).unwrap();
    assert_eq!(hg.layout().len(), 109_906);
    // the other rows of the §1.10 table
    for (f, o, n, ansatz, mg, hg) in [
        (4, 2, 6, Unified5, 39_764, 73_363),     // genomic
        (4, 2, 6, Legacy4, 39_548, 72_715),      // genomic, legacy (published)
        (2, 1, 6, Unified5, 39_325, 72_204),     // adding
        (2, 8, 6, Unified5, 39_780, 72_659),     // selective copy
        (228, 2, 6, Unified5, 132_276, 246_515), // DNA
    ] {
        let cfg = gated_cfg(f, o, n, ansatz);
        let m = registry::build("mg", cfg.clone()).unwrap();
        assert_eq!(m.layout().n_params(), mg, "mg F={f} O={o} {ansatz:?}");
        let m = registry::build("hg", cfg).unwrap();
        assert_eq!(m.layout().n_params(), hg, "hg F={f} O={o} {ansatz:?}");
    }
    // constructor defaults: Mamba n=4, F=64, O=2; Hydra n=6, F=129, O=1
    let m = registry::build("mg", gated_cfg(64, 2, 4, Unified5)).unwrap();
    assert_eq!(m.layout().n_params(), 50_360);
    let m = registry::build("hg", gated_cfg(129, 1, 6, Unified5)).unwrap();
    assert_eq!(m.layout().n_params(), 157_548);
}

// ----------------------------------------------------------------------------------------------
// Small-model goldens (gated-small.json)
// ----------------------------------------------------------------------------------------------

fn golden() -> Option<Value> {
    let Some(dir) = shared_dir() else {
        eprintln!("note: ../shared not found, skipping the gated small-model goldens");
        return None;
    };
    let path = dir.join("spec/gated-golden/gated-small.json");
    let text = std::fs::read_to_string(&path).expect("gated-small.json readable");
    Some(serde_json::from_str(&text).expect("gated-small.json parses"))
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("number array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("integer array")
        .iter()
        .map(|x| x.as_u64().expect("integer") as usize)
        .collect()
}

/// The small model `id` of the sidecar with its state dict loaded into our layout; returns the
/// model, its parameters, the input (B, F, T) and B.
fn small_model(g: &Value, id: &str, key: &str) -> (Box<dyn Model>, Vec<f32>, Vec<f32>, usize) {
    let c = &g["small_model_config"];
    let u = |k: &str| c[k].as_u64().unwrap_or_else(|| panic!("config {k}")) as usize;
    let cfg = ModelConfig {
        n_channels: u("feature_dim"),
        n_times: u("n_timesteps"),
        n_qubits: u("n_qubits"),
        n_layers: u("qlcu_layers"),
        hidden_dim: u("hidden_dim"),
        n_classes: u("output_dim"),
        chunk_size: u("chunk_size"),
        dropout: 0.0,
        ansatz: AnsatzKind::Unified5,
        causal: false,
        d_model: 0,
        d_state: 0,
    };
    let model = registry::build(id, cfg).expect("gated model in registry");
    let sd = g[key]["state_dict"].as_object().expect("state_dict");
    let lay = model.layout();
    assert_eq!(sd.len(), lay.specs().len(), "{id}: state_dict entries");
    let mut p = vec![0.0f32; lay.len()];
    for spec in lay.specs() {
        let e = sd
            .get(&spec.name)
            .unwrap_or_else(|| panic!("{id}: golden lacks {}", spec.name));
        let shape = usizes(&e["shape"]);
        let data: Vec<f32> = if e.get("real").is_some() {
            // complex: interleave (re, im), stored shape (..., 2)
            let (re, im) = (floats(&e["real"]), floats(&e["imag"]));
            assert_eq!(
                [shape.clone(), vec![2]].concat(),
                spec.shape,
                "{}",
                spec.name
            );
            re.iter().zip(&im).flat_map(|(a, b)| [*a, *b]).collect()
        } else {
            assert_eq!(shape, spec.shape, "{id}: shape of {}", spec.name);
            floats(&e["data"])
        };
        p[spec.range.clone()].copy_from_slice(&data);
    }
    let x = &g["input_x_BxFxT"];
    let xs = usizes(&x["shape"]);
    let data = floats(&x["data"]);
    assert_eq!(xs[1..], [model.config().n_channels, model.config().n_times]);
    (model, p, data, xs[0])
}

fn traced<'a>(trace: &'a [(String, Vec<f32>)], name: &str) -> &'a [f32] {
    &trace
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no trace entry {name}"))
        .1
}

/// Compares per-sample pieces `ours[i]` with the batch-major golden `want` (B, …).
fn compare(what: &str, ours: &[Vec<f32>], want: &[f32], tol: f32) -> f32 {
    let ours: Vec<f32> = ours.concat();
    let d = max_abs_diff(&ours, want);
    println!("small golden {what}: max |diff| = {d:.3e}");
    assert!(d <= tol, "{what} differs by {d:e}");
    d
}

/// Tolerance of the sidecar comparisons (its notes: ~1e-5, float32).
const SMALL_TOL: f32 = 1e-5;

#[test]
fn small_golden_mamba_gated() {
    let Some(g) = golden() else { return };
    let (model, p, x, b) = small_model(&g, "mg", "mamba");
    let q = 3 * model.config().n_qubits;
    let n = x.len() / b;
    let (mut q0, mut states, mut hfin, mut logits) = (vec![], vec![], vec![], vec![]);
    for i in 0..b {
        let xi = &x[i * n..(i + 1) * n];
        let tr = model.trace(&p, xi);
        q0.push(traced(&tr, "gated_recurrence.quantum_superposition")[..q].to_vec());
        states.push(traced(&tr, "gated_recurrence.all_states").to_vec());
        hfin.push(traced(&tr, "gated_recurrence").to_vec());
        logits.push(model.forward_eval(&p, xi));
    }
    let m = &g["mamba"];
    assert_eq!(usizes(&m["all_chunk_states_shape"]), [b, 3, 6]);
    compare("mg q_t0", &q0, &floats(&m["q_features_t0_BxQ"]), SMALL_TOL);
    compare(
        "mg chunk states",
        &states,
        &floats(&m["all_chunk_states"]),
        SMALL_TOL,
    );
    compare("mg h_final", &hfin, &floats(&m["h_final_BxH"]), SMALL_TOL);
    compare("mg logits", &logits, &floats(&m["logits_BxO"]), SMALL_TOL);
}

#[test]
fn small_golden_hydra_gated() {
    let Some(g) = golden() else { return };
    let (model, p, x, b) = small_model(&g, "hg", "hydra");
    let n = x.len() / b;
    let (mut hf, mut hb, mut hgl, mut logits) = (vec![], vec![], vec![], vec![]);
    for i in 0..b {
        let xi = &x[i * n..(i + 1) * n];
        let tr = model.trace(&p, xi);
        hf.push(traced(&tr, "branch_forward").to_vec());
        hb.push(traced(&tr, "branch_backward").to_vec());
        hgl.push(traced(&tr, "global_proj").to_vec());
        logits.push(model.forward_eval(&p, xi));
    }
    let h = &g["hydra"];
    compare("hg h_forward", &hf, &floats(&h["h_forward"]), SMALL_TOL);
    compare("hg h_backward", &hb, &floats(&h["h_backward"]), SMALL_TOL);
    compare("hg h_global", &hgl, &floats(&h["h_global"]), SMALL_TOL);
    compare("hg logits", &logits, &floats(&h["logits_BxO"]), SMALL_TOL);
}

/// Prints the measured distances to the fixtures (run with `--nocapture`): eval logits, the
/// worst `act.*` relative to its max-abs, the loss and the worst gradient relative to its
/// tensor's max |grad|. The assertions are in `check_forward` / `check_gradients`.
#[test]
fn report_fixture_distances() {
    use qssm_tests::max_abs;
    use qssm_tests::parity_check::{load, sample};
    use qssm_trainer::models::Target;
    for name in ["mg", "hg"] {
        let Some(l) = load(name) else { return };
        let x = &l.fx.get("input.x").data;
        let y = &l.fx.get("input.y").data;
        let (mut dlog, mut dact, mut worst_act) = (0.0f32, 0.0f32, String::new());
        let mut g = vec![0.0f32; l.params.len()];
        let mut loss = 0.0f32;
        for i in 0..y.len() {
            let xi = sample(x, l.b, i);
            let logits = l.model.forward_eval(&l.params, xi);
            let want = sample(&l.fx.get("output.logits_eval").data, l.b, i).to_vec();
            dlog = dlog.max(max_abs_diff(&logits, &want));
            let tr = l.model.trace(&l.params, xi);
            for (k, t) in l.fx.tensors.iter().filter(|(k, _)| k.starts_with("act.")) {
                let ours = traced(&tr, &k["act.".len()..]);
                let r = max_abs_diff(ours, sample(&t.data, l.b, i)) / max_abs(&t.data);
                if r > dact {
                    (dact, worst_act) = (r, k.clone());
                }
            }
        }
        let targets: Vec<Target<'_>> = y.iter().map(|v| Target::Class(*v as usize)).collect();
        loss += l
            .model
            .train_batch(&l.params, x, l.b, &targets, None, &mut g)
            .loss;
        let dloss = (loss - l.fx.get("output.loss").data[0]).abs();
        let (mut dgrad, mut worst_grad) = (0.0f32, String::new());
        for spec in l.model.layout().specs() {
            let t = l.fx.get(&format!("grad.{}", spec.name));
            let r = max_abs_diff(&g[spec.range.clone()], &t.data) / max_abs(&t.data);
            if r > dgrad {
                (dgrad, worst_grad) = (r, spec.name.clone());
            }
        }
        println!(
            "{name}: eval logits {dlog:.3e}; worst act {dact:.3e}×max-abs ({worst_act}); \
             loss {dloss:.3e}; worst grad {dgrad:.3e}×max|grad| ({worst_grad})"
        );
        assert!(dlog <= 1e-5 && dact <= 1e-5 && dloss <= 1e-5 && dgrad <= 1e-3);
    }
}
