//! `trainer models`: the registry as a table.
use crate::models::registry::{build, MODELS};
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
    let wc = MODELS
        .iter()
        .map(|m| m.class_name.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let wm = MODELS
        .iter()
        .map(|m| m.mixing.len())
        .max()
        .unwrap_or(0)
        .max(6);
    println!(
        "{:<4} {:<wc$} {:>5} {:<9} {:<wm$} {:>8} stream",
        "id", "class", "group", "features", "mixing", "params"
    );
    for m in MODELS {
        let n = build(m.id, ModelConfig::eeg(a.n_times))?
            .layout()
            .n_params();
        println!(
            "{:<4} {:<wc$} {:>5} {:<9} {:<wm$} {:>8} {}",
            m.id,
            m.class_name,
            m.group,
            m.features,
            m.mixing,
            n,
            if m.streamable { "yes" } else { "no" }
        );
    }
    Ok(())
}
