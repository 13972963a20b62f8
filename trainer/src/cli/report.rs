//! `trainer report`: the table and figures of a sweep (see [`crate::report`]).
use std::path::PathBuf;

/// Arguments of `trainer report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// sweep folder (with sweep.json), or any folder holding runs' results.json
    pub sweep: PathBuf,
    /// output folder; default `<sweep>/report`
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// reference results to place in our spread: CSV with columns model,sfreq,seed,acc (acc in
    /// percent), e.g. docs/reproduction/reference.csv
    #[arg(long)]
    pub reference: Option<PathBuf>,
}

/// Runs `trainer report`.
pub fn run(a: ReportArgs) -> Result<(), Box<dyn std::error::Error>> {
    let reference = match &a.reference {
        Some(p) => crate::report::table::parse_reference(
            &std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
        )
        .map_err(|e| format!("{}: {e}", p.display()))?,
        None => Vec::new(),
    };
    let out = a.out.clone().unwrap_or_else(|| a.sweep.join("report"));
    let w = crate::report::write(&a.sweep, &out, &reference)?;
    for (p, why) in &w.unreadable {
        eprintln!("warning: skipped {}: {why}", p.display());
    }
    if !w.missing.is_empty() {
        eprintln!(
            "warning: {} runs have no results yet: {}",
            w.missing.len(),
            crate::report::short_list(&w.missing)
        );
    }
    println!(
        "{} runs: wrote {} files to {} (table.md, table.csv, runs.csv, accuracy.png, splits.png, confusion/, curves/)",
        w.runs,
        w.files.len(),
        out.display()
    );
    Ok(())
}
