//! On-disk cache of epoched EEGMMIDB subjects, so that EDF decoding and FFT resampling run
//! once per (subject, settings).
//!
//! One safetensors file per subject and settings, `S{NNN}_{sfreq}hz_{hash}.safetensors`, under
//! the cache directory, holding:
//! * `X`: (N, C, T) `f32`, millivolts; `y`: (N,) `u8` labels; `run`: (N,) `u8` run numbers;
//! * `__metadata__`: `key` (the full cache key, below), `channel_names` (comma-separated),
//!   `missing_runs` (comma-separated run numbers), `sfreq`, `n_times`.
//!
//! The key is a text made of: [`LOADER_VERSION`], the canonical dataset root, the subject id,
//! sfreq, runs, tmin/tmax, the expected channel list, the input filter's sections (if any), and for each run file its size and the
//! 64-bit XXH3 of its bytes (or "missing"): the content, not the name or size, so a file
//! replaced by another of the same size is seen. `hash` is the XXH3 of the key; a file is only
//! used if its stored key equals the current key, so any change of settings, loader version or
//! data files triggers a rebuild. The arrays carry their own XXH3 (`data_xxh3`), checked on
//! every read: a file that cannot be parsed, does not match, or whose bytes changed is ignored
//! and rebuilt.
//!
//! Files are written atomically: written to a uniquely named temporary file in the cache
//! directory, flushed, then renamed over the final name, so concurrent trainers never read a
//! partial file.

use super::eegmmidb::{load_subject, EegError, EegmmidbConfig, EpochSet};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Version of the epoching code; bump it when the produced arrays change.
pub const LOADER_VERSION: u32 = 1;

/// A directory of cached epoch files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochCache {
    dir: PathBuf,
}

/// XXH3 (64-bit) of the arrays' bytes, in file order.
fn data_hash(x: &[u8], y: &[u8], run: &[u8]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(x);
    h.update(y);
    h.update(run);
    h.digest()
}

impl EpochCache {
    /// A cache in `dir` (created on first store).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        EpochCache { dir: dir.into() }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cache key text for one subject under `cfg` (see the module docs).
    ///
    /// # Errors
    /// [`EegError::MissingDataDir`] if the dataset root does not exist.
    pub fn key(&self, cfg: &EegmmidbConfig, subject: u32) -> Result<String, EegError> {
        let root = cfg
            .root
            .canonicalize()
            .map_err(|_| EegError::MissingDataDir(cfg.root.clone()))?;
        let files: Vec<String> = cfg
            .runs
            .iter()
            .map(|&r| {
                // an unreadable file counts as missing (the loader reports it)
                let content = std::fs::read(cfg.run_path(subject, r))
                    .map_or("missing".to_string(), |b| {
                        format!("{}:{:016x}", b.len(), xxhash_rust::xxh3::xxh3_64(&b))
                    });
                format!("R{r:02}:{content}")
            })
            .collect();
        let channels = cfg
            .expected_channels
            .as_ref()
            .map_or("any".to_string(), |c| c.join(","));
        // the filter enters the key only when there is one, so unfiltered keys are as before
        let filter = if cfg.filter.is_identity() {
            String::new()
        } else {
            format!("\nfilter={:?}", cfg.filter.sections())
        };
        Ok(format!(
            "qssm-eegmmidb-epochs v{LOADER_VERSION}\nroot={}\nsubject={subject}\nsfreq={}\nruns={:?}\ntmin={:?}\ntmax={:?}\nchannels={channels}\nfiles={}{filter}",
            root.display(),
            cfg.sfreq,
            cfg.runs,
            cfg.tmin_s,
            cfg.tmax_s,
            files.join(",")
        ))
    }

    /// File that holds (or would hold) one subject's epochs under `cfg`.
    ///
    /// # Errors
    /// As [`EpochCache::key`].
    pub fn path(&self, cfg: &EegmmidbConfig, subject: u32) -> Result<PathBuf, EegError> {
        let key = self.key(cfg, subject)?;
        Ok(self.path_of(cfg, subject, &key))
    }

    /// Read a cached subject if a valid file with the matching key exists; `None` otherwise
    /// (absent, unreadable, corrupt, or built with other settings or other data).
    pub fn get(&self, cfg: &EegmmidbConfig, subject: u32) -> Option<EpochSet> {
        let key = self.key(cfg, subject).ok()?;
        self.get_keyed(cfg, subject, &key)
    }

    fn get_keyed(&self, cfg: &EegmmidbConfig, subject: u32, key: &str) -> Option<EpochSet> {
        let path = self.path_of(cfg, subject, key);
        let bytes = std::fs::read(path).ok()?;
        decode(&bytes, key, cfg, subject)
    }

    fn path_of(&self, cfg: &EegmmidbConfig, subject: u32, key: &str) -> PathBuf {
        self.dir.join(format!(
            "S{subject:03}_{}hz_{:016x}.safetensors",
            cfg.sfreq,
            xxhash_rust::xxh3::xxh3_64(key.as_bytes())
        ))
    }

    /// Store one subject's epochs atomically (temporary file + rename).
    ///
    /// # Errors
    /// [`EegError::MissingDataDir`] (key), [`EegError::Cache`] on any write failure.
    pub fn put(&self, cfg: &EegmmidbConfig, subject: u32, set: &EpochSet) -> Result<(), EegError> {
        let key = self.key(cfg, subject)?;
        self.put_keyed(cfg, subject, set, &key)
    }

    fn put_keyed(
        &self,
        cfg: &EegmmidbConfig,
        subject: u32,
        set: &EpochSet,
        key: &str,
    ) -> Result<(), EegError> {
        let path = self.path_of(cfg, subject, key);
        let fail = |reason: String| EegError::Cache {
            path: path.clone(),
            reason,
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| fail(format!("create dir: {e}")))?;
        let bytes = encode(set, key).map_err(fail)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let tmp = self.dir.join(format!(
            ".{}.tmp.{}.{nanos}",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("epochs"),
            std::process::id()
        ));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            fail(format!("write: {e}"))
        })
    }

    /// Load one subject from the cache, or epoch it from the EDFs and store it.
    ///
    /// # Errors
    /// As [`load_subject`] and [`EpochCache::put`].
    pub fn load_subject(&self, cfg: &EegmmidbConfig, subject: u32) -> Result<EpochSet, EegError> {
        // the key (which hashes the run files) is computed once per subject
        let key = self.key(cfg, subject)?;
        if let Some(set) = self.get_keyed(cfg, subject, &key) {
            return Ok(set);
        }
        let set = load_subject(cfg, subject)?;
        self.put_keyed(cfg, subject, &set, &key)?;
        Ok(set)
    }

    /// [`EpochCache::load_subject`] for several subjects (in parallel), concatenated in the
    /// order given.
    ///
    /// # Errors
    /// As [`EpochCache::load_subject`] and [`EpochSet::append`].
    pub fn load_subjects(
        &self,
        cfg: &EegmmidbConfig,
        subjects: &[u32],
    ) -> Result<EpochSet, EegError> {
        use rayon::prelude::*;
        let sets: Vec<Result<EpochSet, EegError>> = subjects
            .par_iter()
            .map(|&s| self.load_subject(cfg, s))
            .collect();
        let mut out = EpochSet::concat(sets.into_iter().collect::<Result<Vec<_>, _>>()?)?;
        if out.channel_names.is_empty() {
            out.sfreq = cfg.sfreq;
            out.n_times = cfg.n_times();
        }
        Ok(out)
    }
}

fn encode(set: &EpochSet, key: &str) -> Result<Vec<u8>, String> {
    let xb: Vec<u8> = set.x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let n = set.n_trials();
    let views = [
        (
            "X",
            TensorView::new(Dtype::F32, vec![n, set.n_channels, set.n_times], &xb),
        ),
        ("y", TensorView::new(Dtype::U8, vec![n], &set.y)),
        ("run", TensorView::new(Dtype::U8, vec![n], &set.run)),
    ];
    let mut tensors = Vec::new();
    for (name, v) in views {
        tensors.push((name, v.map_err(|e| format!("tensor {name}: {e}"))?));
    }
    let mut meta = HashMap::new();
    meta.insert("key".to_string(), key.to_string());
    meta.insert("channel_names".to_string(), set.channel_names.join(","));
    meta.insert(
        "missing_runs".to_string(),
        set.missing_runs
            .iter()
            .map(|(_, r)| r.to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    meta.insert("sfreq".to_string(), set.sfreq.to_string());
    meta.insert("n_times".to_string(), set.n_times.to_string());
    meta.insert(
        "data_xxh3".to_string(),
        format!("{:016x}", data_hash(&xb, &set.y, &set.run)),
    );
    safetensors::serialize(tensors, Some(meta)).map_err(|e| format!("serialize: {e}"))
}

fn decode(bytes: &[u8], key: &str, cfg: &EegmmidbConfig, subject: u32) -> Option<EpochSet> {
    let (_, meta) = SafeTensors::read_metadata(bytes).ok()?;
    let m = meta.metadata().as_ref()?;
    if m.get("key")? != key {
        return None;
    }
    let st = SafeTensors::deserialize(bytes).ok()?;
    let x = st.tensor("X").ok()?;
    let y = st.tensor("y").ok()?;
    let run = st.tensor("run").ok()?;
    if x.dtype() != Dtype::F32 || y.dtype() != Dtype::U8 || run.dtype() != Dtype::U8 {
        return None;
    }
    // the arrays' bytes as written (a flipped bit anywhere in them is a rebuild)
    if m.get("data_xxh3")? != &format!("{:016x}", data_hash(x.data(), y.data(), run.data())) {
        return None;
    }
    let channel_names: Vec<String> = m
        .get("channel_names")?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let xs = x.shape().to_vec();
    let n = y.shape().first().copied()?;
    if xs.len() != 3
        || xs[0] != n
        || xs[1] != channel_names.len()
        || xs[2] != cfg.n_times()
        || y.shape().len() != 1
        || run.shape() != [n]
    {
        return None;
    }
    let labels = y.data().to_vec();
    if labels.iter().any(|&l| l > 1) {
        return None;
    }
    let missing_runs = m
        .get("missing_runs")?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|r| r.parse::<u8>().ok().map(|r| (subject, r)))
        .collect::<Option<Vec<_>>>()?;
    let xv: Vec<f32> = x
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if xv.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut set = EpochSet::empty(channel_names, cfg.sfreq, cfg.n_times());
    set.x = xv;
    set.y = labels;
    set.subject = vec![subject; n];
    set.run = run.data().to_vec();
    set.missing_runs = missing_runs;
    Some(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip_and_corruption() {
        let dir = std::env::temp_dir().join(format!("qssm-cache-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = EegmmidbConfig::new(&dir, 40);
        let t = cfg.n_times();
        let mut set = EpochSet::empty(vec!["a".into(), "b".into()], 40, t);
        set.x = (0..2 * 2 * t).map(|i| i as f32 * 0.5).collect();
        set.y = vec![0, 1];
        set.subject = vec![7, 7];
        set.run = vec![4, 8];
        set.missing_runs = vec![(7, 12)];
        let bytes = encode(&set, "k").unwrap();
        assert_eq!(decode(&bytes, "k", &cfg, 7), Some(set.clone()));
        assert_eq!(decode(&bytes, "other", &cfg, 7), None);
        assert_eq!(decode(&bytes[..bytes.len() - 3], "k", &cfg, 7), None);
        assert_eq!(decode(b"garbage", "k", &cfg, 7), None);
        // a flipped bit in the arrays (the file still parses) is caught by the checksum
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last - 8] ^= 0x10;
        assert_eq!(decode(&flipped, "k", &cfg, 7), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
