//! The `qssm` command line (clap): the device-side tool, running model files through the
//! inference engine (`qssm-engine`) the way a device would. Subcommands: `stream`.
//! Errors print as one line (`error: …`) with a non-zero exit status.
use super::stream;
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
    /// Replay an EDF+ recording sample by sample through the engine (causal models; others
    /// window by window): predictions per hop and per trial, accuracy, push latency.
    Stream(stream::StreamArgs),
}

/// Runs the parsed `qssm` command.
pub fn run(cli: QssmCli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        QssmCommand::Stream(a) => stream::run(a),
    }
}
