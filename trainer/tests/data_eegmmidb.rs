//! EEGMMIDB loader against MNE: the fixtures `shared/fixtures/eeg/S001_{40,80,160}hz_mne.safetensors`
//! (S001 epoched by MNE 1.13.2 exactly as the reference loader), the per-subject trial counts of
//! spec gated-and-protocols §2.1, the loader's typed errors, and the epoch cache.
//!
//! Tests needing `<workspace>/../shared` print a note and return when it is absent.
//!
//! Tolerances:
//! * 160 Hz: no resampling happens, so the values are MNE's EDF scaling ×1e3 cast to f32; the
//!   bound is 1e-6 of the max |x| (f32 rounding is 6e-8 relative).
//! * 40/80 Hz: the resampler implements MNE's FFT algorithm step by step in f64 with a
//!   different FFT library (rustfft vs pocketfft), so the two differ only by f64 round-off
//!   (~1e-15 relative to the run's max, FFT length 32 768) before the common cast to f32. That
//!   can at most flip the f32 rounding of a value, i.e. one f32 ulp (≤ 6e-8·max). The asserted
//!   bound is therefore the same as at 160 Hz, 1e-6 of the max |x| (measured: 0, every f32
//!   value identical to MNE's); any algorithmic deviation (a wrong pad length, Nyquist bin,
//!   gain or sample offset) gives errors of 1e-3 to 1e-1 relative and fails it.

use qssm_trainer::data::{
    discover_subjects, load_subject, load_subjects, EegError, EegmmidbConfig, EpochCache, EpochSet,
};
use safetensors::tensor::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};

fn shared() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    let ok = p.join("data/eegmmidb").is_dir() && p.join("fixtures/eeg").is_dir();
    if ok {
        Some(p)
    } else {
        eprintln!(
            "note: {} (data/eegmmidb, fixtures/eeg) not found; skipping",
            p.display()
        );
        None
    }
}

/// A fresh empty directory under the system temp dir.
fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("qssm-data-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

struct Fixture {
    x: Vec<f32>,
    y: Vec<i64>,
    shape: Vec<usize>,
    channels: Vec<String>,
}

fn read_fixture(path: &Path) -> Fixture {
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let channels = meta.metadata().as_ref().unwrap()["channel_order"]
        .split(',')
        .map(str::to_string)
        .collect();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let x = st.tensor("X").unwrap();
    let y = st.tensor("y").unwrap();
    assert_eq!(x.dtype(), Dtype::F32);
    assert_eq!(y.dtype(), Dtype::I64);
    Fixture {
        x: x.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        y: y.data()
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        shape: x.shape().to_vec(),
        channels,
    }
}

/// (max |ours − MNE|, max |MNE|) in millivolts.
fn compare(sfreq: u32, shared: &Path) -> (f64, f64, EpochSet) {
    let fx = read_fixture(&shared.join(format!("fixtures/eeg/S001_{sfreq}hz_mne.safetensors")));
    let cfg = EegmmidbConfig::new(shared.join("data/eegmmidb"), sfreq);
    let set = load_subject(&cfg, 1).unwrap();
    assert_eq!(set.channel_names, fx.channels, "channel order");
    assert_eq!(
        vec![set.n_trials(), set.n_channels, set.n_times],
        fx.shape,
        "shape at {sfreq} Hz"
    );
    let y: Vec<i64> = set.y.iter().map(|&v| v as i64).collect();
    assert_eq!(y, fx.y, "labels at {sfreq} Hz");
    assert_eq!(set.subject, vec![1; set.n_trials()]);
    let mut err = 0f64;
    let mut max = 0f64;
    for (a, b) in set.x.iter().zip(&fx.x) {
        err = err.max((*a as f64 - *b as f64).abs());
        max = max.max((*b as f64).abs());
    }
    (err, max, set)
}

#[test]
fn data_eegmmidb_s001_160hz_matches_mne_exactly() {
    let Some(sh) = shared() else { return };
    let (err, max, set) = compare(160, &sh);
    println!(
        "160 Hz: max abs err {err:.3e} mV, max |x| {max:.3} mV, rel {:.3e}",
        err / max
    );
    assert_eq!(set.n_times, 497);
    assert_eq!(set.n_trials(), 45);
    assert!(err <= 1e-6 * max, "160 Hz error {err} vs max {max}");
}

#[test]
fn data_eegmmidb_s001_40_80hz_resampler_vs_mne() {
    let Some(sh) = shared() else { return };
    for (sfreq, t) in [(40u32, 125usize), (80, 249)] {
        let (err, max, set) = compare(sfreq, &sh);
        println!(
            "{sfreq} Hz: max abs err {err:.3e} mV, max |x| {max:.3} mV, rel {:.3e}",
            err / max
        );
        assert_eq!(set.n_times, t);
        assert!(err <= 1e-6 * max, "{sfreq} Hz: error {err} vs max {max}");
    }
}

#[test]
fn data_eegmmidb_per_subject_trial_counts() {
    let Some(sh) = shared() else { return };
    let root = sh.join("data/eegmmidb");
    let ids = discover_subjects(&root).unwrap();
    assert_eq!(ids, (1..=24).collect::<Vec<u32>>());
    let cfg = EegmmidbConfig::new(&root, 80);
    let set = load_subjects(&cfg, &ids).unwrap();
    let expected = |s: u32| match s {
        1 | 3 | 7 | 21 | 22 => 45,
        24 => 28,
        _ => 42,
    };
    for s in ids {
        let n = set.subject.iter().filter(|&&v| v == s).count();
        assert_eq!(n, expected(s), "subject S{s:03}");
    }
    assert_eq!(set.n_trials(), 1009); // reference-results-24-subjects.md
    assert_eq!(set.missing_runs, vec![(24, 12)]);
    assert_eq!((set.n_channels, set.n_times, set.sfreq), (64, 249, 80));
    assert_eq!(set.x.len(), 1009 * 64 * 249);
    // subject order follows the request, runs in 4/8/12 order within a subject
    let order = [3u32, 1];
    let two = load_subjects(&cfg, &order).unwrap();
    assert_eq!(two.subject[0], 3);
    assert_eq!(two.subject[two.n_trials() - 1], 1);
    assert!(two.run.windows(2).all(|w| w[0] <= w[1] || w[1] == 4));
}

/// Copy S001's runs into a scratch dataset root, applying `edit` to the R08 bytes.
fn scratch_subject(sh: &Path, tag: &str, edit: impl Fn(&mut Vec<u8>)) -> PathBuf {
    let root = temp_dir(tag);
    std::fs::create_dir_all(root.join("S001")).unwrap();
    for r in ["04", "08", "12"] {
        let mut b = std::fs::read(sh.join(format!("data/eegmmidb/S001/S001R{r}.edf"))).unwrap();
        if r == "08" {
            edit(&mut b);
        }
        std::fs::write(root.join(format!("S001/S001R{r}.edf")), b).unwrap();
    }
    root
}

fn replace_all(b: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut i = 0;
    while i + from.len() <= b.len() {
        if &b[i..i + from.len()] == from {
            b[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
}

#[test]
fn data_eegmmidb_typed_errors() {
    let Some(sh) = shared() else { return };
    let err_of = |root: &Path| load_subject(&EegmmidbConfig::new(root, 160), 1).unwrap_err();

    let e = load_subject(&EegmmidbConfig::new("no/such/dir", 80), 1).unwrap_err();
    assert!(matches!(e, EegError::MissingDataDir(_)), "{e}");
    assert!(matches!(
        discover_subjects(Path::new("no/such/dir")),
        Err(EegError::MissingDataDir(_))
    ));

    let e = load_subject(&EegmmidbConfig::new(sh.join("data/eegmmidb"), 80), 99).unwrap_err();
    assert!(
        matches!(e, EegError::MissingSubject { subject: 99, .. }),
        "{e}"
    );
    println!("{e}");

    let root = scratch_subject(&sh, "notedf", |b| b.iter_mut().for_each(|v| *v = 0x5a));
    let e = err_of(&root);
    assert!(
        e.to_string().contains("S001R08.edf") && e.to_string().contains("not an EDF"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(root);

    let root = scratch_subject(&sh, "trunc", |b| b.truncate(b.len() / 2));
    let e = err_of(&root);
    assert!(
        matches!(
            &e,
            EegError::Edf {
                source: qssm_formats::edf::EdfError::Truncated { .. },
                ..
            }
        ),
        "{e}"
    );
    println!("{e}");
    let _ = std::fs::remove_dir_all(root);

    let root = scratch_subject(&sh, "noann", |b| {
        replace_all(b, b"\x14T1\x14", b"\x14T0\x14");
        replace_all(b, b"\x14T2\x14", b"\x14T0\x14");
    });
    let e = err_of(&root);
    assert!(matches!(e, EegError::NoCueAnnotations(_)), "{e}");
    assert!(e
        .to_string()
        .contains("EDF without the expected annotations"));
    let _ = std::fs::remove_dir_all(root);

    let root = scratch_subject(&sh, "chan", |b| b[256] = b'X'); // "Fc5." → "Xc5."
    let e = err_of(&root);
    assert!(matches!(e, EegError::ChannelMismatch { .. }), "{e}");
    assert!(e.to_string().contains("S001R08.edf"));
    println!("{e}");
    // With no expected list, runs must still agree with each other.
    let mut cfg = EegmmidbConfig::new(&root, 160);
    cfg.expected_channels = None;
    let e = load_subject(&cfg, 1).unwrap_err();
    assert!(matches!(e, EegError::ChannelMismatch { .. }), "{e}");
    let _ = std::fs::remove_dir_all(root);

    // Missing run: skipped and recorded; no run at all: error.
    let root = scratch_subject(&sh, "missing", |_| {});
    std::fs::remove_file(root.join("S001/S001R12.edf")).unwrap();
    let set = load_subject(&EegmmidbConfig::new(&root, 160), 1).unwrap();
    assert_eq!(set.missing_runs, vec![(1, 12)]);
    assert_eq!(set.n_trials(), 30);
    std::fs::remove_file(root.join("S001/S001R04.edf")).unwrap();
    std::fs::remove_file(root.join("S001/S001R08.edf")).unwrap();
    assert!(matches!(err_of(&root), EegError::MissingSubject { .. }));
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn data_eegmmidb_cache_round_trip_and_corruption() {
    let Some(sh) = shared() else { return };
    let dir = temp_dir("cache");
    let cache = EpochCache::new(dir.join("epochs"));
    let cfg = EegmmidbConfig::new(sh.join("data/eegmmidb"), 40);
    let direct = load_subjects(&cfg, &[24, 2]).unwrap();

    let built = cache.load_subjects(&cfg, &[24, 2]).unwrap();
    assert_eq!(built, direct);
    let p24 = cache.path(&cfg, 24).unwrap();
    assert!(p24.is_file());
    let hit = cache.load_subject(&cfg, 24).unwrap();
    assert_eq!(hit.missing_runs, vec![(24, 12)]);
    assert_eq!(cache.get(&cfg, 24), Some(hit.clone()));

    // a different setting uses a different file
    let cfg80 = EegmmidbConfig::new(sh.join("data/eegmmidb"), 80);
    assert_ne!(cache.path(&cfg80, 24).unwrap(), p24);
    assert_eq!(cache.get(&cfg80, 24), None);

    // corrupt → ignored and rebuilt
    std::fs::write(&p24, b"this is not a safetensors file").unwrap();
    assert_eq!(cache.get(&cfg, 24), None);
    assert_eq!(cache.load_subject(&cfg, 24).unwrap(), hit);
    assert!(cache.get(&cfg, 24).is_some());
    let len = std::fs::metadata(&p24).unwrap().len();
    let b = std::fs::read(&p24).unwrap();
    std::fs::write(&p24, &b[..len as usize / 2]).unwrap();
    assert_eq!(cache.load_subject(&cfg, 24).unwrap(), hit);

    // no temporary files left behind
    for e in std::fs::read_dir(cache.dir()).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(
            name.ends_with(".safetensors") && !name.starts_with('.'),
            "{name}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn data_eegmmidb_cache_sees_a_replaced_file_of_the_same_size() {
    // a run file replaced by a different one of the same size must not be served from the
    // cache (the key hashes the file contents)
    let Some(sh) = shared() else { return };
    let dir = temp_dir("cache-stale");
    let root = dir.join("eegmmidb");
    std::fs::create_dir_all(root.join("S001")).unwrap();
    for e in std::fs::read_dir(sh.join("data/eegmmidb/S001")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), root.join("S001").join(e.file_name())).unwrap();
    }
    let cfg = EegmmidbConfig::new(&root, 40);
    let cache = EpochCache::new(dir.join("epochs"));
    let before = cache.load_subject(&cfg, 1).unwrap();
    // same size, other samples: +1 count on every sample of the first signal of the first
    // imagery run (EDF: ns at header byte 252, samples per record at 256 + 216·ns)
    let run = root.join(format!("S001/S001R{:02}.edf", cfg.runs[0]));
    let mut b = std::fs::read(&run).unwrap();
    let field = |b: &[u8], at: usize| -> usize {
        std::str::from_utf8(&b[at..at + 8])
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let ns: usize = std::str::from_utf8(&b[252..256])
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let spr: Vec<usize> = (0..ns).map(|i| field(&b, 256 + 216 * ns + 8 * i)).collect();
    let (hdr, rec) = (256 * (ns + 1), 2 * spr.iter().sum::<usize>());
    let mut r = hdr;
    while r + rec <= b.len() {
        for k in 0..spr[0] {
            let v = i16::from_le_bytes([b[r + 2 * k], b[r + 2 * k + 1]]).wrapping_add(1);
            b[r + 2 * k..r + 2 * k + 2].copy_from_slice(&v.to_le_bytes());
        }
        r += rec;
    }
    std::fs::write(&run, &b).unwrap();
    let fresh = load_subject(&cfg, 1).unwrap();
    assert_ne!(
        fresh, before,
        "the edit must change the epochs for this test to mean anything"
    );
    assert_eq!(cache.load_subject(&cfg, 1).unwrap(), fresh);
    let _ = std::fs::remove_dir_all(dir);
}

/// Write a small EDF+C file: `ns` EEG signals at `sfreq` Hz (1-s records, 1 count = 1 µV)
/// holding `f(ch, t)` µV, plus annotations `(onset_s, text)`.
fn write_edf_plus(
    labels: &[String],
    sfreq: usize,
    n_records: usize,
    f: impl Fn(usize, f64) -> f64,
    ann: &[(f64, &str)],
) -> Vec<u8> {
    let ns = labels.len() + 1;
    let mut out = Vec::new();
    let mut field = |s: &str, w: usize| {
        let mut b = s.as_bytes().to_vec();
        b.resize(w, b' ');
        out.extend(b);
    };
    field("0", 8);
    field("X", 80);
    field("Startdate X", 80);
    field("01.01.20", 8);
    field("00.00.00", 8);
    field(&(256 * (ns + 1)).to_string(), 8);
    field("EDF+C", 44);
    field(&n_records.to_string(), 8);
    field("1", 8);
    field(&ns.to_string(), 4);
    let all: Vec<&str> = labels
        .iter()
        .map(|s| s.as_str())
        .chain(["EDF Annotations"])
        .collect();
    for l in &all {
        field(l, 16);
    }
    for _ in 0..ns {
        field("", 80);
    }
    for k in 0..ns {
        field(if k < ns - 1 { "uV" } else { "" }, 8);
    }
    for w in ["-8092", "8092", "-8092", "8092"] {
        for k in 0..ns {
            field(
                if k < ns - 1 {
                    w
                } else if w.starts_with('-') {
                    "-1"
                } else {
                    "1"
                },
                8,
            );
        }
    }
    for _ in 0..ns {
        field("", 80);
    }
    let ann_spr = 64;
    for k in 0..ns {
        field(&(if k < ns - 1 { sfreq } else { ann_spr }).to_string(), 8);
    }
    for _ in 0..ns {
        field("", 32);
    }
    for r in 0..n_records {
        for ch in 0..ns - 1 {
            for i in 0..sfreq {
                let t = (r * sfreq + i) as f64 / sfreq as f64;
                out.extend((f(ch, t).round() as i16).to_le_bytes());
            }
        }
        let mut tal = format!("+{r}\x14\x14\x00").into_bytes();
        for (on, text) in ann {
            if on.floor() as usize == r {
                tal.extend(format!("+{on}\x1504.1\x14{text}\x14\x00").bytes());
            }
        }
        tal.resize(2 * ann_spr, 0);
        out.extend(tal);
    }
    out
}

/// A 128 Hz recording (as PhysioNet subjects 88, 92, 100) goes through the same path: resampled
/// to 160 Hz (up) and 80 Hz (down), windows cut at the target rate, last cue dropped when its
/// window leaves the run, a slow sinusoid preserved.
#[test]
fn data_eegmmidb_native_128hz_run() {
    let root = temp_dir("r128");
    std::fs::create_dir_all(root.join("S088")).unwrap();
    let labels: Vec<String> = ["A", "B", "C"].iter().map(|s| s.to_string()).collect();
    let sig = |ch: usize, t: f64| 1000.0 * (2.0 * std::f64::consts::PI * 1.5 * t + ch as f64).sin();
    let ann = [
        (0.0, "T0"),
        (4.0, "T1"),
        (10.0, "T2"),
        (16.0, "T0"),
        (17.0, "T1"),
    ];
    let bytes = write_edf_plus(&labels, 128, 20, sig, &ann);
    std::fs::write(root.join("S088/S088R04.edf"), bytes).unwrap();
    for (sfreq, t) in [(160u32, 497usize), (80, 249)] {
        let mut cfg = EegmmidbConfig::new(&root, sfreq);
        cfg.expected_channels = None;
        let set = load_subject(&cfg, 88).unwrap();
        // cue at 17 s: window ends at 21.1 s > 20 s run → dropped
        assert_eq!(set.y, vec![0, 1], "{sfreq} Hz");
        assert_eq!(set.missing_runs, vec![(88, 8), (88, 12)]);
        assert_eq!((set.n_channels, set.n_times), (3, t));
        // trial 0 starts at 4 + 1 = 5 s; compare with the analytic signal (µV → mV)
        let mut err = 0f64;
        for ch in 0..3 {
            for i in 0..t {
                let want = sig(ch, 5.0 + i as f64 / sfreq as f64) * 1e-3;
                err = err.max((set.trial(0)[ch * t + i] as f64 - want).abs());
            }
        }
        // 1.5 Hz at 1 count = 1 µV quantisation (5e-4 mV) plus ringing far from the edges
        assert!(err < 2e-3, "{sfreq} Hz: err {err} mV");
    }
    let _ = std::fs::remove_dir_all(root);
}
