//! The grid of a sweep: models × sampling rates × split seeds × init seeds × any `trainer fit`
//! option, from a TOML file and/or the command line, expanded into runs with stable names.
//!
//! TOML form (every key optional; the command line overrides the file key by key):
//! ```toml
//! models = ["1b", "3b"]          # ids or class names (`trainer models`)
//! sfreq = [80]                   # Hz
//! seeds = [2024, 2025, 2026]     # split seeds (`--seed`)
//! init_seeds = [1, 2, 3, 4, 5]   # `--init-seed`; absent: the split seed
//! [fit]                          # any other `trainer fit` option, without the dashes
//! data = "data/eegmmidb"         # a scalar: the same for every run
//! epochs = 50
//! causal = true                  # a switch: true adds it, false leaves it out
//! d_model = [64, 128]            # an array: one more axis of the grid
//! ```
use crate::models::registry;
use std::collections::BTreeMap;
use std::fmt;

/// One value of a fit option.
#[derive(Clone, Debug, PartialEq)]
pub enum OptValue {
    /// a switch such as `--causal`: present when true
    Switch(bool),
    /// `--key value`
    Value(String),
}

impl fmt::Display for OptValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptValue::Switch(b) => write!(f, "{b}"),
            OptValue::Value(v) => f.write_str(v),
        }
    }
}

/// A sweep's grid. `models` must not be empty; an empty `sfreqs` or `seeds` means `trainer
/// fit`'s default (80 Hz, split seed 2024), an empty `init_seeds` one run per split seed,
/// initialised with that seed (`trainer fit`'s default too).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Grid {
    /// model ids or class names
    pub models: Vec<String>,
    /// resampling rates in Hz
    pub sfreqs: Vec<u32>,
    /// split seeds
    pub seeds: Vec<u64>,
    /// initialisation seeds (parameter init, shuffling, dropout)
    pub init_seeds: Vec<u64>,
    /// other fit options, by name without dashes (`d_model` or `d-model`); more than one
    /// value makes an axis
    pub options: BTreeMap<String, Vec<OptValue>>,
}

/// One run of an expanded grid: its stable name and its `trainer fit` arguments (without
/// `--out`, `--resume`, `--threads` and `--no-progress`, which the sweep adds).
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRun {
    /// `<model>_<sfreq>Hz_split<seed>_init<init>[_<option>-<value>…]` (axes of more than one
    /// value only)
    pub name: String,
    /// `trainer fit` arguments
    pub args: Vec<String>,
}

/// Options the sweep sets itself: a grid may not set them as fit options.
const RESERVED: [&str; 8] = [
    "model",
    "sfreq",
    "seed",
    "init-seed",
    "out",
    "resume",
    "threads",
    "no-progress",
];

/// `trainer fit`'s default sampling rate (Hz) and split seed.
const DEFAULT_SFREQ: u32 = 80;
const DEFAULT_SEED: u64 = 2024;

/// The most runs one grid may expand to (a typo such as `seeds = 1-100000` fails here, not
/// in the scheduler).
pub const MAX_RUNS: usize = 100_000;

fn dashed(key: &str) -> String {
    key.trim().trim_start_matches('-').replace('_', "-")
}

impl Grid {
    /// Parses the TOML form (see the module docs). Errors name the key and what was expected.
    pub fn from_toml(text: &str) -> Result<Grid, String> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            format!("malformed grid TOML: {}", e.to_string().trim_end())
        })?;
        let mut g = Grid::default();
        for (key, value) in &table {
            match key.as_str() {
                "models" => g.models = strings(key, value)?,
                "sfreq" | "sfreqs" => g.sfreqs = integers(key, value)?,
                "seeds" => g.seeds = integers(key, value)?,
                "init_seeds" | "init-seeds" => g.init_seeds = integers(key, value)?,
                "fit" => {
                    let t = value
                        .as_table()
                        .ok_or_else(|| "grid key 'fit' must be a table ([fit])".to_string())?;
                    for (k, v) in t {
                        g.options.insert(dashed(k), option_values(k, v)?);
                    }
                }
                other => {
                    return Err(format!(
                        "unknown grid key '{other}' (expected models, sfreq, seeds, init_seeds or a [fit] table)"
                    ))
                }
            }
        }
        Ok(g)
    }

    /// Expands the grid into runs, in a stable order (models, rates, split seeds, init seeds,
    /// then the option axes in name order). Checks every model id and reserved option; the
    /// caller checks the arguments themselves with `trainer fit`'s parser.
    pub fn expand(&self) -> Result<Vec<PlannedRun>, String> {
        if self.models.is_empty() {
            return Err(
                "a sweep needs at least one model (--models or `models` in the grid)".into(),
            );
        }
        let sfreqs = if self.sfreqs.is_empty() {
            vec![DEFAULT_SFREQ]
        } else {
            self.sfreqs.clone()
        };
        let seeds = if self.seeds.is_empty() {
            vec![DEFAULT_SEED]
        } else {
            self.seeds.clone()
        };
        let mut ids = Vec::new();
        for m in &self.models {
            let e = registry::lookup(m)
                .map_err(|e| format!("{e} in the grid (`trainer models` lists the models)"))?;
            if !ids.contains(&e.id) {
                ids.push(e.id);
            }
        }
        for (k, vs) in &self.options {
            if RESERVED.contains(&k.as_str()) {
                return Err(format!(
                    "fit option '{k}' is set by the sweep itself (use models, sfreq, seeds, init_seeds; --threads via --local or --cpus-per-task)"
                ));
            }
            if vs.is_empty() {
                return Err(format!("fit option '{k}' has an empty list of values"));
            }
        }
        let axes: Vec<(&String, &Vec<OptValue>)> = self.options.iter().collect();
        let combos: usize = axes.iter().map(|(_, v)| v.len()).product();
        let inits = self.init_seeds.len().max(1);
        let total = ids.len() * sfreqs.len() * seeds.len() * inits * combos;
        if total > MAX_RUNS {
            return Err(format!(
                "the grid expands to {total} runs, more than {MAX_RUNS}"
            ));
        }
        let mut runs = Vec::with_capacity(total);
        for id in &ids {
            for &sfreq in &sfreqs {
                for &seed in &seeds {
                    let init_list = if self.init_seeds.is_empty() {
                        vec![seed]
                    } else {
                        self.init_seeds.clone()
                    };
                    for init in init_list {
                        for c in 0..combos {
                            let mut name = format!("{id}_{sfreq}Hz_split{seed}_init{init}");
                            let mut args = vec![
                                "--model".to_string(),
                                id.to_string(),
                                "--sfreq".into(),
                                sfreq.to_string(),
                                "--seed".into(),
                                seed.to_string(),
                                "--init-seed".into(),
                                init.to_string(),
                            ];
                            let mut rest = c;
                            for (key, values) in &axes {
                                let v = &values[rest % values.len()];
                                rest /= values.len();
                                if values.len() > 1 {
                                    name.push_str(&format!("_{key}-{}", name_part(&v.to_string())));
                                }
                                match v {
                                    OptValue::Switch(true) => args.push(format!("--{key}")),
                                    OptValue::Switch(false) => {}
                                    OptValue::Value(s) => {
                                        args.push(format!("--{key}"));
                                        args.push(s.clone());
                                    }
                                }
                            }
                            runs.push(PlannedRun { name, args });
                        }
                    }
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for r in &runs {
            if !seen.insert(&r.name) {
                return Err(format!(
                    "two runs of the grid are both named {} (repeated values in an axis?)",
                    r.name
                ));
            }
        }
        Ok(runs)
    }
}

/// A value as it may appear in a run's (folder) name.
fn name_part(v: &str) -> String {
    v.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn scalar(key: &str, v: &toml::Value) -> Result<OptValue, String> {
    Ok(match v {
        toml::Value::String(s) => OptValue::Value(s.clone()),
        toml::Value::Integer(i) => OptValue::Value(i.to_string()),
        toml::Value::Float(f) => OptValue::Value(f.to_string()),
        toml::Value::Boolean(b) => OptValue::Switch(*b),
        other => {
            return Err(format!(
            "fit option '{key}': expected a string, number, boolean or an array of them, got {}",
            other.type_str()
        ))
        }
    })
}

fn option_values(key: &str, v: &toml::Value) -> Result<Vec<OptValue>, String> {
    match v {
        toml::Value::Array(a) => a.iter().map(|x| scalar(key, x)).collect(),
        x => Ok(vec![scalar(key, x)?]),
    }
}

fn strings(key: &str, v: &toml::Value) -> Result<Vec<String>, String> {
    let err = || format!("grid key '{key}' must be a string or an array of strings");
    match v {
        toml::Value::String(s) => Ok(vec![s.clone()]),
        toml::Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or_else(err))
            .collect(),
        _ => Err(err()),
    }
}

fn integers<T: TryFrom<i64>>(key: &str, v: &toml::Value) -> Result<Vec<T>, String> {
    let err = || format!("grid key '{key}' must be a non-negative integer or an array of them");
    let one = |x: &toml::Value| {
        x.as_integer()
            .and_then(|i| T::try_from(i).ok())
            .ok_or_else(err)
    };
    match v {
        toml::Value::Array(a) => a.iter().map(one).collect(),
        x => Ok(vec![one(x)?]),
    }
}

/// Parses a command-line list of integers: `2024,2025` or ranges `1-5` (inclusive).
pub fn parse_int_list<T: std::str::FromStr + TryFrom<u64>>(
    what: &str,
    s: &str,
) -> Result<Vec<T>, String> {
    let bad = || format!("invalid {what} '{s}': expected a list like 1,2,3 or a range like 1-5");
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: u64 = a.trim().parse().map_err(|_| bad())?;
                let b: u64 = b.trim().parse().map_err(|_| bad())?;
                if a > b || b - a >= MAX_RUNS as u64 {
                    return Err(bad());
                }
                for i in a..=b {
                    out.push(T::try_from(i).map_err(|_| bad())?);
                }
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

/// Parses `--set KEY=V1[,V2…]` (a switch: `KEY=true`/`KEY=false`).
pub fn parse_set(s: &str) -> Result<(String, Vec<OptValue>), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("invalid --set '{s}': expected KEY=VALUE or KEY=V1,V2"))?;
    let key = dashed(k);
    if key.is_empty() {
        return Err(format!("invalid --set '{s}': empty option name"));
    }
    let values = v
        .split(',')
        .map(str::trim)
        .map(|x| match x {
            "true" => OptValue::Switch(true),
            "false" => OptValue::Switch(false),
            _ => OptValue::Value(x.to_string()),
        })
        .collect();
    Ok((key, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_grid_expands_in_a_stable_order_with_axes_in_the_names() {
        let g = Grid::from_toml(
            "models = [\"1b\", \"QuantumMambaSSM\"]\nsfreq = [80]\nseeds = [2024, 2025]\ninit_seeds = [1]\n[fit]\nepochs = 1\ncausal = true\nd_model = [64, 128]\n",
        )
        .unwrap();
        let runs = g.expand().unwrap();
        // QuantumMambaSSM is 1b: one model; 2 seeds × 2 d_model values
        assert_eq!(runs.len(), 4);
        assert_eq!(runs[0].name, "1b_80Hz_split2024_init1_d-model-64");
        assert_eq!(runs[1].name, "1b_80Hz_split2024_init1_d-model-128");
        assert_eq!(runs[3].name, "1b_80Hz_split2025_init1_d-model-128");
        let a = &runs[1].args;
        assert!(a.windows(2).any(|w| w == ["--epochs", "1"]));
        assert!(a.windows(2).any(|w| w == ["--d-model", "128"]));
        assert!(a.contains(&"--causal".to_string()));
        assert!(a.windows(2).any(|w| w == ["--init-seed", "1"]));
    }

    #[test]
    fn without_init_seeds_the_split_seed_initialises() {
        let g = Grid {
            models: vec!["3b".into()],
            sfreqs: vec![80, 160],
            seeds: vec![7],
            ..Grid::default()
        };
        let runs = g.expand().unwrap();
        assert_eq!(
            runs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["3b_80Hz_split7_init7", "3b_160Hz_split7_init7"]
        );
    }

    #[test]
    fn bad_grids_get_one_clear_error() {
        let e = Grid::from_toml("models = [\"1b\"\n").unwrap_err();
        assert!(e.starts_with("malformed grid TOML"), "{e}");
        let e = Grid::from_toml("modles = [\"1b\"]").unwrap_err();
        assert!(e.contains("unknown grid key 'modles'"), "{e}");
        let e = Grid::from_toml("seeds = [-1]").unwrap_err();
        assert!(e.contains("'seeds'"), "{e}");
        let mut g = Grid::from_toml("models = [\"9z\"]\nsfreq = 80\nseeds = 1").unwrap();
        let e = g.expand().unwrap_err();
        assert!(e.contains("9z"), "{e}");
        g.models = vec!["1b".into()];
        g.options
            .insert("seed".into(), vec![OptValue::Value("3".into())]);
        assert!(g.expand().unwrap_err().contains("set by the sweep"));
        assert!(Grid::default().expand().is_err());
        let defaults = Grid {
            models: vec!["1b".into()],
            ..Grid::default()
        };
        assert_eq!(
            defaults.expand().unwrap()[0].name,
            "1b_80Hz_split2024_init2024"
        );
    }

    #[test]
    fn command_line_lists() {
        assert_eq!(
            parse_int_list::<u64>("--seeds", "1-3,7").unwrap(),
            [1, 2, 3, 7]
        );
        assert!(parse_int_list::<u64>("--seeds", "3-1").is_err());
        assert!(parse_int_list::<u32>("--sfreq", "80,x").is_err());
        let (k, v) = parse_set("d_model=64,128").unwrap();
        assert_eq!(k, "d-model");
        assert_eq!(v.len(), 2);
        assert_eq!(
            parse_set("causal=true").unwrap().1,
            [OptValue::Switch(true)]
        );
        assert!(parse_set("epochs").is_err());
    }
}
