//! `trainer`: the qssm command line (see `trainer --help`).
use clap::Parser;

fn main() {
    let cli = qssm_trainer::cli::Cli::parse();
    if let Err(e) = qssm_trainer::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
