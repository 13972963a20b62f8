//! The `qssm` command line (clap): the device-side tool, running model files through the
//! inference engine (`qssm-engine`) the way a device would. Subcommands: `stream` (EDF replay
//! or a live LSL stream through the engine), `replay` (an EDF published as a live LSL stream).
//! Errors print as one line (`error: …`) with a non-zero exit status.
use super::{replay, stream};
use clap::{Parser, Subcommand};

/// qssm: run exported models through the inference engine on recorded EEG.
#[derive(Parser, Debug)]
#[command(name = "qssm", version, about)]
pub struct QssmCli {
    /// command
    #[command(subcommand)]
    pub command: QssmCommand,
}

/// Subcommands of `qssm`.
#[derive(Subcommand, Debug)]
pub enum QssmCommand {
    /// Run EEG through the engine: an EDF+ recording replayed sample by sample (causal
    /// models; others window by window), predictions per hop and per trial, accuracy, push
    /// latency; or a live LSL stream (`--lsl-in`, feature `lsl`), predictions published with
    /// `--lsl-out`.
    Stream(stream::StreamArgs),
    /// Publish an EDF+ recording as a live LSL EEG stream, paced at its rate (needs a build
    /// with feature `lsl`).
    Replay(replay::ReplayArgs),
}

/// Runs the parsed `qssm` command.
pub fn run(cli: QssmCli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        QssmCommand::Stream(a) => stream::run(a),
        QssmCommand::Replay(a) => replay::run(a),
    }
}
