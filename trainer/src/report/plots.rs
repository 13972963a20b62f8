//! The report's figures (PNG, drawn with `plotters`, text in the embedded DejaVu Sans):
//! learning curves per run, test accuracy per model and rate (mean ± sd with every run), test
//! accuracy per split seed next to the reference's run, confusion matrices per model and rate.
use super::runs::RunResult;
use super::table::{group, mean_sd, ReferenceRun};
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::OnceLock;

/// Font family name the plots use (DejaVu Sans, registered once).
const FONT: &str = "sans-serif";

fn register_font() -> Result<(), String> {
    // registered once per process; a failure is remembered, not retried without a font
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "the embedded DejaVu Sans font did not load".to_string())
        })
        .clone()
}

/// Colours of successive series (sampling rates, splits).
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];
const REFERENCE: RGBColor = RGBColor(214, 39, 40);

type Res = Result<(), String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Draws into `path` through a temporary sibling and a rename (no half-written PNG is left
/// under the final name).
fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Res,
) -> Res {
    register_font()?;
    let tmp = path.with_extension("tmp.png");
    {
        let area = BitMapBackend::new(&tmp, size).into_drawing_area();
        area.fill(&WHITE).map_err(err)?;
        draw(&area)?;
        area.present()
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Learning curve of one run: training and validation loss, and validation accuracy with the
/// selected epoch marked.
pub fn learning_curve(run: &RunResult, path: &Path) -> Res {
    render(path, (1000, 400), |area| {
        let (left, right) = area.split_horizontally(500);
        let h = &run.history;
        let last = h.len().max(2) as f64;
        let finite = |x: f64| x.is_finite();
        let losses = h
            .iter()
            .flat_map(|e| [e.train_loss, e.val_loss])
            .filter(|&x| finite(x));
        let ymax = losses.fold(0.0f64, f64::max).max(0.1) * 1.05;
        let mut c = ChartBuilder::on(&left)
            .caption(format!("{}: loss", run.name), (FONT, 16))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(1.0..last, 0.0..ymax)
            .map_err(err)?;
        c.configure_mesh()
            .x_desc("epoch")
            .x_label_formatter(&|x: &f64| format!("{x:.0}"))
            .y_desc("cross-entropy")
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        for (label, colour, get) in [
            (
                "train",
                PALETTE[0],
                (|e: &super::runs::EpochPoint| e.train_loss) as fn(&_) -> f64,
            ),
            ("validation", PALETTE[1], |e| e.val_loss),
        ] {
            c.draw_series(LineSeries::new(
                h.iter()
                    .filter(|e| finite(get(e)))
                    .map(|e| (e.epoch as f64, get(e))),
                colour.stroke_width(2),
            ))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
        }
        c.configure_series_labels()
            .label_font((FONT, 12))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;

        let mut c = ChartBuilder::on(&right)
            .caption("validation accuracy", (FONT, 16))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(1.0..last, 0.0..100.0)
            .map_err(err)?;
        c.configure_mesh()
            .x_desc("epoch")
            .x_label_formatter(&|x: &f64| format!("{x:.0}"))
            .y_desc("accuracy (%)")
            .y_label_formatter(&|y: &f64| format!("{y:.0}"))
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        c.draw_series(LineSeries::new(
            h.iter()
                .filter(|e| finite(e.val_acc))
                .map(|e| (e.epoch as f64, 100.0 * e.val_acc)),
            PALETTE[2].stroke_width(2),
        ))
        .map_err(err)?;
        let b = run.best_epoch as f64;
        c.draw_series(std::iter::once(PathElement::new(
            [(b, 0.0), (b, 100.0)],
            BLACK.mix(0.5),
        )))
        .map_err(err)?;
        c.draw_series(std::iter::once(Text::new(
            format!(
                "selected: epoch {}, test {:.1} %",
                run.best_epoch,
                100.0 * run.acc
            ),
            (b, 8.0),
            (FONT, 12),
        )))
        .map_err(err)?;
        Ok(())
    })
}

/// A stable jitter in [-0.5, 0.5) for the `i`-th dot of a strip (no randomness in figures).
fn jitter(i: usize) -> f64 {
    ((i as f64) * 0.618_033_988_75).fract() - 0.5
}

/// Test accuracy per model (groups on the x axis) and rate (bars): mean with ± sd whiskers and
/// every run as a dot.
pub fn accuracy_bars(runs: &[RunResult], path: &Path) -> Res {
    let groups = group(runs, false);
    let mut models: Vec<&str> = Vec::new();
    let mut rates: Vec<u32> = Vec::new();
    for g in &groups {
        if !models.contains(&g.model.as_str()) {
            models.push(&g.model);
        }
        if !rates.contains(&g.sfreq) {
            rates.push(g.sfreq);
        }
    }
    rates.sort_unstable();
    let width = (160 * models.len() as u32 + 200).clamp(500, 3000);
    render(path, (width, 450), |area| {
        let mut c = ChartBuilder::on(area)
            .caption("test accuracy per model and sampling rate", (FONT, 18))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(-0.5..models.len() as f64 - 0.5, 0.0..100.0)
            .map_err(err)?;
        let names = models.clone();
        c.configure_mesh()
            .disable_x_mesh()
            .x_labels(models.len())
            .x_label_formatter(&move |x: &f64| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    names
                        .get(i as usize)
                        .map(|s| s.to_string())
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("test accuracy (%, mean ± sd, dots = runs)")
            .y_label_formatter(&|y: &f64| format!("{y:.0}"))
            .label_style((FONT, 13))
            .draw()
            .map_err(err)?;
        let bar = 0.8 / rates.len() as f64;
        for (k, &rate) in rates.iter().enumerate() {
            let colour = PALETTE[k % PALETTE.len()];
            let mut first = true;
            for g in groups.iter().filter(|g| g.sfreq == rate) {
                let mi = models.iter().position(|m| *m == g.model).unwrap_or(0) as f64;
                let x0 = mi - 0.4 + bar * k as f64;
                let xc = x0 + bar / 2.0;
                let accs: Vec<f64> = g.accs().iter().map(|a| 100.0 * a).collect();
                let (m, sd) = mean_sd(&accs);
                let series = c
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0 + 0.01, 0.0), (x0 + bar - 0.01, m)],
                        colour.mix(0.6).filled(),
                    )))
                    .map_err(err)?;
                if first {
                    series.label(format!("{rate} Hz")).legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 15, y + 5)], colour.mix(0.6).filled())
                    });
                    first = false;
                }
                c.draw_series([
                    PathElement::new([(xc, m - sd), (xc, m + sd)], BLACK.stroke_width(2)),
                    PathElement::new(
                        [(xc - bar / 6.0, m - sd), (xc + bar / 6.0, m - sd)],
                        BLACK.stroke_width(2),
                    ),
                    PathElement::new(
                        [(xc - bar / 6.0, m + sd), (xc + bar / 6.0, m + sd)],
                        BLACK.stroke_width(2),
                    ),
                ])
                .map_err(err)?;
                c.draw_series(accs.iter().enumerate().map(|(i, &a)| {
                    Circle::new((xc + 0.5 * bar * jitter(i), a), 3, BLACK.mix(0.7).filled())
                }))
                .map_err(err)?;
                c.draw_series(std::iter::once(Text::new(
                    format!("{m:.1}"),
                    (x0 + 0.02, (m + sd + 4.0).min(97.0)),
                    (FONT, 12),
                )))
                .map_err(err)?;
            }
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 13))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        Ok(())
    })
}

/// Test accuracy of every run per (model, rate, split seed), with the reference's run on the
/// same split as a red cross where given.
pub fn splits(runs: &[RunResult], reference: &[ReferenceRun], path: &Path) -> Res {
    let groups = group(runs, true);
    let width = (110 * groups.len() as u32 + 150).clamp(500, 4000);
    // a strip plot: zoom on the values (every run and every reference result), 5 points margin
    let values = runs
        .iter()
        .map(|r| r.acc)
        .chain(reference.iter().map(|r| r.acc))
        .map(|a| 100.0 * a)
        .filter(|a| a.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), a| {
        (l.min(a), h.max(a))
    });
    let (lo, hi) = if lo <= hi {
        (
            ((lo - 5.0) / 5.0).floor().max(0.0) * 5.0,
            (((hi + 5.0) / 5.0).ceil() * 5.0).min(100.0),
        )
    } else {
        (0.0, 100.0)
    };
    render(path, (width, 450), |area| {
        let mut c = ChartBuilder::on(area)
            .caption(
                "test accuracy per split: our init seeds (dots, mean ± sd) and the reference (red ×)",
                (FONT, 16),
            )
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(-0.5..groups.len() as f64 - 0.5, lo..hi)
            .map_err(err)?;
        let labels: Vec<String> = groups
            .iter()
            .map(|g| format!("{} {}", g.model, g.seed.unwrap_or_default()))
            .collect();
        c.configure_mesh()
            .disable_x_mesh()
            .x_labels(groups.len())
            .x_label_formatter(&move |x: &f64| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc("model, split seed")
            .y_desc("test accuracy (%)")
            .y_label_formatter(&|y: &f64| format!("{y:.0}"))
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        for (gi, g) in groups.iter().enumerate() {
            let x = gi as f64;
            let colour = PALETTE[gi % PALETTE.len()];
            let accs: Vec<f64> = g.accs().iter().map(|a| 100.0 * a).collect();
            let (m, sd) = mean_sd(&accs);
            c.draw_series(
                accs.iter().enumerate().map(|(i, &a)| {
                    Circle::new((x + 0.3 * jitter(i), a), 4, colour.mix(0.8).filled())
                }),
            )
            .map_err(err)?;
            c.draw_series([
                PathElement::new([(x - 0.3, m), (x + 0.3, m)], BLACK.stroke_width(2)),
                PathElement::new(
                    [(x + 0.35, m - sd), (x + 0.35, m + sd)],
                    BLACK.stroke_width(2),
                ),
            ])
            .map_err(err)?;
            if let Some(r) = reference
                .iter()
                .find(|r| r.model == g.model && r.sfreq == g.sfreq && Some(r.seed) == g.seed)
            {
                c.draw_series(std::iter::once(Cross::new(
                    (x, 100.0 * r.acc),
                    8,
                    REFERENCE.stroke_width(3),
                )))
                .map_err(err)?;
            }
        }
        Ok(())
    })
}

/// Confusion matrix summed over the runs of one group: counts and row percentages (rows =
/// true class, columns = predicted; class 0 = left fist T1, 1 = right fist T2 on EEGMMIDB).
pub fn confusion(title: &str, runs: &[&RunResult], path: &Path) -> Res {
    let n = runs.first().map_or(0, |r| r.confusion.len());
    if n == 0
        || runs
            .iter()
            .any(|r| r.confusion.len() != n || r.confusion.iter().any(|row| row.len() != n))
    {
        return Err(format!("{title}: confusion matrices of different shapes"));
    }
    let mut sum = vec![vec![0u64; n]; n];
    for r in runs {
        for (i, row) in r.confusion.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                sum[i][j] += v;
            }
        }
    }
    render(path, (460, 460), |area| {
        let mut c = ChartBuilder::on(area)
            .caption(format!("{title} ({} runs)", runs.len()), (FONT, 16))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, -0.5..n as f64 - 0.5)
            .map_err(err)?;
        // cells centred on integers; true class 0 on top
        let class_at = move |v: f64, flip: bool| {
            let i = v.round();
            if (v - i).abs() > 1e-6 || i < 0.0 || i >= n as f64 {
                return String::new();
            }
            let k = if flip { n - 1 - i as usize } else { i as usize };
            k.to_string()
        };
        c.configure_mesh()
            .disable_mesh()
            .x_labels(n)
            .y_labels(n)
            .x_label_formatter(&|x: &f64| class_at(*x, false))
            .y_label_formatter(&|y: &f64| class_at(*y, true))
            .x_desc("predicted class")
            .y_desc("true class")
            .label_style((FONT, 13))
            .draw()
            .map_err(err)?;
        for (i, row) in sum.iter().enumerate() {
            let total = row.iter().sum::<u64>().max(1) as f64;
            for (j, &v) in row.iter().enumerate() {
                let frac = v as f64 / total;
                let (x, y) = (j as f64, (n - 1 - i) as f64);
                let shade = RGBColor(
                    (255.0 - 200.0 * frac) as u8,
                    (255.0 - 140.0 * frac) as u8,
                    255,
                );
                c.draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                    shade.filled(),
                )))
                .map_err(err)?;
                c.draw_series(std::iter::once(Text::new(
                    format!("{v} ({:.0} %)", 100.0 * frac),
                    (x - 0.25, y + 0.05),
                    (FONT, 15),
                )))
                .map_err(err)?;
            }
        }
        Ok(())
    })
}
