//! `trainer report`: a sweep's results as the study's table (Markdown and CSV) and figures
//! (PNG). Reads every complete `results.json` of the sweep ([`runs`]), aggregates per model
//! and sampling rate and per split seed ([`table`]), places reference results in our spread
//! ([`compare`]), and draws [`plots`].
pub mod compare;
pub mod plots;
pub mod runs;
pub mod table;

use qssm_formats::model_file::write_atomic;
use std::path::{Path, PathBuf};

/// What a report wrote.
#[derive(Debug)]
pub struct Written {
    /// complete runs in the report
    pub runs: usize,
    /// runs of the manifest without results
    pub missing: Vec<String>,
    /// results that could not be read (path, why)
    pub unreadable: Vec<(PathBuf, String)>,
    /// files written
    pub files: Vec<PathBuf>,
}

/// Writes the report of the sweep folder `sweep` into `out`: `table.md`, `table.csv` (per
/// model and rate), `runs.csv` (per run), `accuracy.png`, `splits.png`,
/// `confusion/<model>_<sfreq>Hz.png` and `curves/<run>.png`. `reference`: runs to compare
/// with (see [`table::parse_reference`]). Every file is written atomically.
pub fn write(
    sweep: &Path,
    out: &Path,
    reference: &[table::ReferenceRun],
) -> Result<Written, String> {
    let c = runs::collect(sweep)?;
    if c.runs.is_empty() {
        return Err(format!(
            "no complete runs in {} ({} without results, {} unreadable)",
            sweep.display(),
            c.missing.len(),
            c.unreadable.len()
        ));
    }
    for d in [out.to_path_buf(), out.join("curves"), out.join("confusion")] {
        std::fs::create_dir_all(&d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let mut files = Vec::new();
    let put = |name: &str, text: String, files: &mut Vec<PathBuf>| {
        let p = out.join(name);
        write_atomic(&p, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        files.push(p);
        Ok::<(), String>(())
    };
    let mut md = format!(
        "# Sweep report: {}\n\n{} complete runs{}. Test metrics in percent, mean ± sample standard deviation (n − 1) over runs.\n\n",
        sweep.display(),
        c.runs.len(),
        if c.missing.is_empty() { String::new() } else { format!(", {} without results ({})", c.missing.len(), short_list(&c.missing)) }
    );
    md.push_str(&table::markdown(&c.runs, reference));
    put("table.md", md, &mut files)?;
    put("table.csv", table::groups_csv(&c.runs), &mut files)?;
    put("runs.csv", table::runs_csv(&c.runs), &mut files)?;
    let p = out.join("accuracy.png");
    plots::accuracy_bars(&c.runs, &p)?;
    files.push(p);
    let p = out.join("splits.png");
    plots::splits(&c.runs, reference, &p)?;
    files.push(p);
    for g in table::group(&c.runs, false) {
        let p = out
            .join("confusion")
            .join(format!("{}_{}Hz.png", g.model, g.sfreq));
        plots::confusion(&g.label(), &g.runs, &p)?;
        files.push(p);
    }
    for r in &c.runs {
        let p = out.join("curves").join(format!("{}.png", r.name));
        plots::learning_curve(r, &p)?;
        files.push(p);
    }
    Ok(Written {
        runs: c.runs.len(),
        missing: c.missing,
        unreadable: c.unreadable,
        files,
    })
}

/// Up to 8 names, then how many more.
pub fn short_list(names: &[String]) -> String {
    let mut s = names.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 8 {
        s.push_str(&format!(" and {} more", names.len() - 8));
    }
    s
}
