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

/// Prints id, class, group, feature and mixing kind, parameter count, streamability.
pub fn run(a: ModelsArgs) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "{:<4} {:<22} {:>5} {:<10} {:<8} {:>10} {:<6}",
        "id", "class", "group", "features", "mixing", "params", "stream"
    );
    for m in MODELS {
        let n = build(m.id, ModelConfig::eeg(a.n_times))?
            .layout()
            .n_params();
        println!(
            "{:<4} {:<22} {:>5} {:<10} {:<8} {:>10} {:<6}",
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
