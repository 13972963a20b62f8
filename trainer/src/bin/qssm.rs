//! `qssm`: the device-side command line (see `qssm --help`), e.g.
//! `qssm stream --model model.safetensors --edf S001R04.edf`.
//!
//! Why this binary lives in the trainer crate: `qssm stream` needs, besides the engine, the
//! EDF reader (`qssm-formats` with `std`) and the trainer's MNE-compatible FFT resampler
//! (`qssm_trainer::data::resample`), so that a replayed recording is exactly what the model
//! was trained on. The trainer crate is the one crate that already has all three; a separate
//! CLI crate would have to depend on the trainer anyway, and the engine must stay `no_std`.
//! Its code is the library's [`qssm_trainer::cli::qssm`] and [`qssm_trainer::replay`] (so
//! tests can call it without the binary).
use clap::Parser;

fn main() {
    let cli = qssm_trainer::cli::qssm::QssmCli::parse();
    if let Err(e) = qssm_trainer::cli::qssm::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
