//! The study's table: test accuracy, AUC and F1 as mean ± sample standard deviation (n − 1)
//! per model and sampling rate, and per split seed; and, given the reference's runs, where
//! each reference result falls in our init-seed spread on the same split.
use super::runs::RunResult;
use std::fmt::Write;

/// Mean and sample standard deviation (n − 1; 0 for one value) of `xs`, NaNs included (they
/// make the result NaN: a diverged run is not hidden).
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() == 1 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// The runs of one model at one rate (and, in the split table, one split seed).
#[derive(Clone, Debug)]
pub struct Group<'a> {
    /// model id
    pub model: String,
    /// sampling rate, Hz
    pub sfreq: u32,
    /// split seed, for the per-split table
    pub seed: Option<u64>,
    /// the runs, by init seed
    pub runs: Vec<&'a RunResult>,
}

impl Group<'_> {
    fn values(&self, f: impl Fn(&RunResult) -> f64) -> Vec<f64> {
        self.runs.iter().map(|r| f(r)).collect()
    }
    /// test accuracies, fractions
    pub fn accs(&self) -> Vec<f64> {
        self.values(|r| r.acc)
    }
    /// `model @ rate` (and `split S`)
    pub fn label(&self) -> String {
        match self.seed {
            Some(s) => format!("{} {} Hz split {s}", self.model, self.sfreq),
            None => format!("{} {} Hz", self.model, self.sfreq),
        }
    }
}

/// Groups `runs` by (model, rate), or by (model, rate, split seed) when `by_split`, in the
/// order of first appearance (the manifest's grid order).
pub fn group(runs: &[RunResult], by_split: bool) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for r in runs {
        let seed = by_split.then_some(r.seed);
        match groups
            .iter_mut()
            .find(|g| g.model == r.model && g.sfreq == r.sfreq && g.seed == seed)
        {
            Some(g) => g.runs.push(r),
            None => groups.push(Group {
                model: r.model.clone(),
                sfreq: r.sfreq,
                seed,
                runs: vec![r],
            }),
        }
    }
    groups
}

fn pct(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

fn pm(xs: &[f64]) -> String {
    let (m, s) = mean_sd(xs);
    format!("{} ± {}", pct(m), pct(s))
}

/// One reference result (the run the issue compares against), e.g. from
/// `docs/reproduction/reference.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceRun {
    /// model id
    pub model: String,
    /// sampling rate, Hz
    pub sfreq: u32,
    /// split seed
    pub seed: u64,
    /// test accuracy, fraction
    pub acc: f64,
}

/// Resolution of a reference accuracy as the CSV gives it (percent with 2 decimals: 1e-4 as a
/// fraction). Our accuracies are exact fractions (e.g. 146/174 = 83.908 %), so one within half
/// of it of a reference value (83.91 %) is the same result: a tie.
pub const REFERENCE_RESOLUTION: f64 = 1e-4;

/// −1, 0 or 1 as our accuracy `ours` is below, equal to (within half of
/// [`REFERENCE_RESOLUTION`]) or above the reference's `reference`.
pub fn compare_to_reference(ours: f64, reference: f64) -> i8 {
    if (ours - reference).abs() <= 0.5 * REFERENCE_RESOLUTION {
        0
    } else if ours < reference {
        -1
    } else {
        1
    }
}

/// Parses a reference CSV: a header naming `model`, `sfreq`, `seed` and `acc` (percent) columns,
/// then one row per run; `#` lines are comments.
pub fn parse_reference(text: &str) -> Result<Vec<ReferenceRun>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let (_, header) = lines.next().ok_or("reference CSV is empty")?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .ok_or_else(|| format!("reference CSV has no '{name}' column (header: {header})"))
    };
    let (cm, cs, cseed, cacc) = (col("model")?, col("sfreq")?, col("seed")?, col("acc")?);
    lines
        .map(|(i, l)| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            let get = |c: usize| {
                f.get(c)
                    .copied()
                    .ok_or_else(|| format!("reference CSV line {}: too few fields", i + 1))
            };
            let bad = |what: &str| format!("reference CSV line {}: bad {what}", i + 1);
            let acc: f64 = get(cacc)?.parse().map_err(|_| bad("acc"))?;
            if !(0.0..=100.0).contains(&acc) {
                return Err(bad("acc (percent, 0–100)"));
            }
            Ok(ReferenceRun {
                model: get(cm)?.to_string(),
                sfreq: get(cs)?.parse().map_err(|_| bad("sfreq"))?,
                seed: get(cseed)?.parse().map_err(|_| bad("seed"))?,
                acc: acc / 100.0,
            })
        })
        .collect()
}

/// The tables as Markdown: per model and rate; per split seed (with the reference's result,
/// its rank among our runs and whether it lies within our range, when given).
pub fn markdown(runs: &[RunResult], reference: &[ReferenceRun]) -> String {
    let mut s = String::new();
    s.push_str("| model | sfreq (Hz) | runs | test acc (%) | test AUC (%) | test F1 (%) | epochs | wall (s, mean) |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for g in group(runs, false) {
        let epochs: Vec<f64> = g.values(|r| r.epochs as f64);
        let wall: Vec<f64> = g.values(|r| r.training_time_s);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {:.1} | {:.1} |",
            g.model,
            g.sfreq,
            g.runs.len(),
            pm(&g.accs()),
            pm(&g.values(|r| r.auc)),
            pm(&g.values(|r| r.f1)),
            mean_sd(&epochs).0,
            mean_sd(&wall).0
        );
    }
    s.push_str("\nPer split seed (spread over init seeds):\n\n");
    let with_ref = !reference.is_empty();
    s.push_str("| model | sfreq (Hz) | split | runs | test acc (%) | min | median | max |");
    if with_ref {
        s.push_str(" reference | our runs below it (ties) | within our range |");
    }
    s.push('\n');
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|");
    if with_ref {
        s.push_str("---:|---:|---|");
    }
    s.push('\n');
    for g in group(runs, true) {
        let mut a = g.accs();
        a.sort_by(f64::total_cmp);
        let median = if a.len() % 2 == 1 {
            a[a.len() / 2]
        } else {
            0.5 * (a[a.len() / 2 - 1] + a[a.len() / 2])
        };
        let _ = write!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            g.model,
            g.sfreq,
            g.seed.unwrap_or_default(),
            a.len(),
            pm(&g.accs()),
            pct(a[0]),
            pct(median),
            pct(a[a.len() - 1])
        );
        if with_ref {
            match reference
                .iter()
                .find(|r| r.model == g.model && r.sfreq == g.sfreq && Some(r.seed) == g.seed)
            {
                Some(r) => {
                    let below = a
                        .iter()
                        .filter(|&&x| compare_to_reference(x, r.acc) < 0)
                        .count();
                    let within = compare_to_reference(a[0], r.acc) <= 0
                        && compare_to_reference(a[a.len() - 1], r.acc) >= 0;
                    let ties = a
                        .iter()
                        .filter(|&&x| compare_to_reference(x, r.acc) == 0)
                        .count();
                    let _ = write!(
                        s,
                        " {} | {below} of {}{} | {} |",
                        pct(r.acc),
                        a.len(),
                        if ties > 0 {
                            format!(" ({ties})")
                        } else {
                            String::new()
                        },
                        if within { "yes" } else { "no" }
                    );
                }
                None => s.push_str(" – | – | – |"),
            }
        }
        s.push('\n');
    }
    if with_ref {
        s.push_str(&placement_markdown(runs, reference));
    }
    s
}

/// The rank test of [`super::compare`] as a Markdown table with a verdict per model and rate.
fn placement_markdown(runs: &[RunResult], reference: &[ReferenceRun]) -> String {
    let mut s = String::from(
        "\nIs the reference one more draw from our init-seed distribution? (rank test over the splits, see `trainer/src/report/compare.rs`; mean percentile ½ expected)\n\n| model | sfreq (Hz) | splits | reference − ours (points) | mean percentile | P(≥) | P(≤) | verdict (5 %) |\n|---|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for p in super::compare::placements(runs, reference) {
        let verdict = if p.p_above < 0.05 {
            "reference above our spread"
        } else if p.p_below < 0.05 {
            "reference below our spread"
        } else {
            "within our spread"
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:+.2} | {:.2} | {:.3} | {:.3} | {verdict} |",
            p.model,
            p.sfreq,
            p.splits.len(),
            100.0 * p.gap,
            p.mean_percentile,
            p.p_above,
            p.p_below
        );
    }
    s
}

/// The per-run table as CSV (one row per run; fractions as percent).
pub fn runs_csv(runs: &[RunResult]) -> String {
    let mut s = String::from(
        "name,model,sfreq,seed,init_seed,test_acc,test_auc,test_f1,epochs,best_epoch,training_time_s\n",
    );
    for r in runs {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{:.1}",
            r.name,
            r.model,
            r.sfreq,
            r.seed,
            r.init_seed,
            pct(r.acc),
            pct(r.auc),
            pct(r.f1),
            r.epochs,
            r.best_epoch,
            r.training_time_s
        );
    }
    s
}

/// The per-model-and-rate table as CSV (mean and sample sd, percent).
pub fn groups_csv(runs: &[RunResult]) -> String {
    let mut s = String::from(
        "model,sfreq,runs,acc_mean,acc_sd,auc_mean,auc_sd,f1_mean,f1_sd,training_time_s_mean\n",
    );
    for g in group(runs, false) {
        let (am, asd) = mean_sd(&g.accs());
        let (um, usd) = mean_sd(&g.values(|r| r.auc));
        let (fm, fsd) = mean_sd(&g.values(|r| r.f1));
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{:.1}",
            g.model,
            g.sfreq,
            g.runs.len(),
            pct(am),
            pct(asd),
            pct(um),
            pct(usd),
            pct(fm),
            pct(fsd),
            mean_sd(&g.values(|r| r.training_time_s)).0
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::runs::tests::results_json;
    use super::*;

    fn run(model: &str, seed: u64, init: u64, acc: f64) -> RunResult {
        RunResult::parse(
            &format!("{model}_{seed}_{init}"),
            &results_json(model, seed, init, acc),
        )
        .unwrap()
    }

    #[test]
    fn mean_and_sample_sd() {
        let (m, s) = mean_sd(&[0.6, 0.7, 0.8]);
        assert!((m - 0.7).abs() < 1e-12 && (s - 0.1).abs() < 1e-12);
        assert_eq!(mean_sd(&[0.5]), (0.5, 0.0));
        assert!(mean_sd(&[]).0.is_nan());
        assert!(mean_sd(&[0.5, f64::NAN]).0.is_nan());
    }

    #[test]
    fn tables_group_by_model_rate_and_split_and_place_the_reference() {
        let runs = vec![
            run("1b", 2024, 1, 0.60),
            run("1b", 2024, 2, 0.70),
            run("1b", 2024, 3, 0.80),
            run("1b", 2025, 1, 0.75),
            run("3b", 2024, 1, 0.65),
        ];
        let reference = parse_reference(
            "# the reference\nmodel,sfreq,seed,acc\n1b,80,2024,69.01\n1b,80,2025,83.91\n",
        )
        .unwrap();
        let md = markdown(&runs, &reference);
        assert!(md.contains("| 1b | 80 | 4 | 71.25 ± 8.54 |"), "{md}");
        assert!(md.contains("| 3b | 80 | 1 | 65.00 ± 0.00 |"), "{md}");
        assert!(
            md.contains("| 1b | 80 | 2024 | 3 | 70.00 ± 10.00 | 60.00 | 70.00 | 80.00 | 69.01 | 1 of 3 | yes |"),
            "{md}"
        );
        assert!(md.contains("| 83.91 | 1 of 1 | no |"), "{md}");
        assert!(
            md.contains(
                "| 3b | 80 | 2024 | 1 | 65.00 ± 0.00 | 65.00 | 65.00 | 65.00 | – | – | – |"
            ),
            "{md}"
        );
        let csv = groups_csv(&runs);
        assert_eq!(csv.lines().count(), 3);
        assert!(csv.contains("\n1b,80,4,71.25,8.54,"), "{csv}");
        assert_eq!(runs_csv(&runs).lines().count(), 6);
    }

    #[test]
    fn bad_reference_files_are_named() {
        assert!(parse_reference("").is_err());
        assert!(parse_reference("model,seed,acc\n")
            .unwrap_err()
            .contains("'sfreq'"));
        assert!(parse_reference("model,sfreq,seed,acc\n1b,80,2024,169\n")
            .unwrap_err()
            .contains("line 2"));
    }
}
