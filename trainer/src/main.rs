//! `trainer`: the qssm command line (see `trainer --help`).
use clap::Parser;

// Training allocates and frees multi-megabyte activation buffers for every sample; glibc's
// allocator returns them to the OS and page-faults them back in (≈30 % of a 3b step). mimalloc
// keeps them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = qssm_trainer::cli::Cli::parse();
    if let Err(e) = qssm_trainer::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
