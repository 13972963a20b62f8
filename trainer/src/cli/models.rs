//! `trainer models`: the registry as a table, then the paper models.
use crate::device::ComputeDevice;
use crate::models::paper::{paper_models, PaperArch, PaperOptions};
use crate::models::registry::{build, zoo};
use crate::models::ModelConfig;

/// Arguments of `trainer models`.
#[derive(clap::Args, Debug)]
pub struct ModelsArgs {
    /// window length T used for the parameter counts (125/249/497 at 40/80/160 Hz)
    #[arg(long, default_value_t = 249)]
    pub n_times: usize,
}

/// Prints id, class, group, feature and mixing kind, parameter count, streamability, with
/// columns as wide as their longest entry.
pub fn run(a: ModelsArgs) -> Result<(), Box<dyn std::error::Error>> {
    let wc = zoo().map(|m| m.class_name.len()).max().unwrap_or(0).max(5);
    let wm = zoo().map(|m| m.mixing.len()).max().unwrap_or(0).max(6);
    println!(
        "{:<4} {:<wc$} {:>5} {:<9} {:<wm$} {:>8} stream",
        "id", "class", "group", "features", "mixing", "params"
    );
    for m in zoo() {
        let n = build(m.id, ModelConfig::eeg(a.n_times))?
            .layout()
            .n_params();
        println!(
            "{:<4} {:<wc$} {:>5} {:<9} {:<wm$} {:>8} {}",
            m.id,
            m.class_name,
            m.zoo_group().unwrap_or_default(),
            m.features,
            m.mixing,
            n,
            if m.streamable { "yes" } else { "no" }
        );
    }
    println!();
    println!(
        "paper models (trainer fit --task sdigits | smnist-10k; spec hqc-mamba-and-quantum-train):"
    );
    let o = PaperOptions::default();
    for m in paper_models() {
        let cfg = ModelConfig {
            n_channels: 1,
            d_model: m.d_model,
            n_classes: 10,
            ..ModelConfig::eeg(784)
        };
        let n = m
            .build_on(cfg, &o, &ComputeDevice::Cpu)?
            .layout()
            .n_params();
        let (id, class_name) = (m.id(), m.info.class_name);
        match m.arch {
            PaperArch::Mamba => println!(
                "{:<20} {:<18} d_model {:>3}, expand {}: {n} parameters ({})",
                id,
                class_name,
                m.d_model,
                o.expand,
                if m.quantum {
                    "quantum in/x/out projections"
                } else {
                    "its classical twin"
                }
            ),
            PaperArch::QuantumTrain => println!(
                "{:<20} {:<18} qt-seed, smnist-10k only: {n} parameters (13-qubit circuit + \
                 mapping MLP) generating the {} weights of a CNN",
                id,
                class_name,
                crate::models::quantum_train::N_WEIGHTS
            ),
            PaperArch::QuantumTrainLiu => println!(
                "{:<20} {:<18} qt-liu, smnist-10k only: {n} parameters (13-qubit U3/CU3 circuit \
                 + linear mapping) generating the {} weights of a CNN without activations",
                id,
                class_name,
                qssm_kernels::ops::target_cnn::LIU_CNN.n_weights()
            ),
            PaperArch::TargetCnnLiu => println!(
                "{:<20} {:<18} smnist-10k only: {n} parameters (qt-liu's target CNN trained \
                 directly)",
                id, class_name
            ),
            PaperArch::TargetCnn => println!(
                "{:<20} {:<18} smnist-10k only: {n} parameters (quantum-train's target CNN \
                 trained directly: the baseline)",
                id, class_name
            ),
        }
    }
    Ok(())
}
