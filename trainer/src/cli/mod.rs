//! The `trainer` command line (clap): `fit`, `models`, `bench`, `classify`, `export`; and the
//! device-side `qssm` command line ([`qssm`]: `stream`).
//! Errors print as one line (`error: …`) with a non-zero exit status.
pub mod bench;
pub mod classify;
pub mod export;
pub mod fit;
pub mod models;
pub mod qssm;
pub mod stream;
pub mod subjects;

use clap::{Parser, Subcommand};

/// qssm trainer: hybrid quantum-classical state-space models on EEG.
#[derive(Parser, Debug)]
#[command(name = "trainer", version, about)]
pub struct Cli {
    /// command
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model on EEGMMIDB and export it (model file + results JSON).
    Fit(Box<fit::FitArgs>),
    /// List the models of the registry.
    Models(models::ModelsArgs),
    /// Time training steps (forward + backward + clip + AdamW) on random input.
    Bench(bench::BenchArgs),
    /// Classify EEGMMIDB windows with an exported model through the inference engine.
    Classify(classify::ClassifyArgs),
    /// Re-store an existing model file's weights in another dtype (f16: half the size).
    Export(export::ExportArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Fit(a) => fit::run(*a),
        Command::Models(a) => models::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Classify(a) => classify::run(a),
        Command::Export(a) => export::run(a),
    }
}
