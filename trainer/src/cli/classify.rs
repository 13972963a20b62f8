//! `trainer classify` (being written).
/// Arguments of `trainer classify`.
#[derive(clap::Args, Debug)]
pub struct ClassifyArgs {}
/// Runs `trainer classify`.
pub fn run(_a: ClassifyArgs) -> Result<(), Box<dyn std::error::Error>> {
    Err("classify is not available yet".into())
}
