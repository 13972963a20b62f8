//! The `trainer` command line (clap): `fit`, `models`, `bench`, `classify`, `export`; and the
//! device-side `qssm` command line ([`qssm`]: `stream`).
//! Errors print as one line (`error: …`) with a non-zero exit status.
pub mod bench;
pub mod classify;
pub mod export;
pub mod fit;
pub mod models;
pub mod qssm;
pub mod replay;
pub mod report;
pub mod stream;
pub mod subjects;
pub mod sweep;

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
    /// Plan a grid of fits (models × rates × seeds × options) and run what is not complete,
    /// here (--local N) or as a SLURM job array (--slurm).
    Sweep(Box<sweep::SweepArgs>),
    /// Aggregate a sweep's results into the study's table (Markdown, CSV) and plots (PNG).
    Report(report::ReportArgs),
    /// Run one run of a sweep manifest (what `sweep`'s processes and array tasks execute).
    #[command(hide = true)]
    SweepTask(sweep::SweepTaskArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Fit(a) => fit::run(*a),
        Command::Models(a) => models::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Classify(a) => classify::run(a),
        Command::Export(a) => export::run(a),
        Command::Sweep(a) => sweep::run(*a),
        Command::SweepTask(a) => sweep::run_task(a),
        Command::Report(a) => report::run(a),
    }
}
