//! EDF/EDF+ reader tests: a real PhysioNet EEGMMIDB file (skipped when `../shared` is absent)
//! and synthetic files written here (scaling round trip, units, annotations, malformed input).

#![cfg(feature = "std")]

use qssm_formats::edf::{Edf, EdfError, EdfWarning};
use std::path::PathBuf;

/// `<workspace>/../shared/data/eegmmidb`, or `None` (with a note) when absent.
fn eegmmidb_root() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/eegmmidb");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("note: {} not found; skipping real-EDF test", p.display());
        None
    }
}

/// One synthetic signal for [`write_edf`].
struct Sig {
    label: &'static str,
    unit: &'static str,
    pmin: f64,
    pmax: f64,
    dmin: i32,
    dmax: i32,
    spr: usize,
    /// Digital samples, all records (len = n_records · spr); for annotation signals the raw
    /// bytes per record are given in `ann` instead.
    digital: Vec<i16>,
    ann: Vec<Vec<u8>>,
}

fn field(out: &mut Vec<u8>, s: &str, w: usize) {
    let mut b = s.as_bytes().to_vec();
    assert!(b.len() <= w, "{s} too long for {w}");
    b.resize(w, b' ');
    out.extend(b);
}

/// Write a minimal EDF(+) file.
fn write_edf(
    sigs: &[Sig],
    n_records: usize,
    n_records_field: i64,
    duration: f64,
    edf_plus: bool,
) -> Vec<u8> {
    let ns = sigs.len();
    let mut out = Vec::new();
    field(&mut out, "0", 8);
    field(&mut out, "X X X X", 80);
    field(&mut out, "Startdate 01-JAN-2020 X X test", 80);
    field(&mut out, "01.01.20", 8);
    field(&mut out, "00.00.00", 8);
    field(&mut out, &format!("{}", 256 * (ns + 1)), 8);
    field(&mut out, if edf_plus { "EDF+C" } else { "" }, 44);
    field(&mut out, &format!("{n_records_field}"), 8);
    field(&mut out, &format!("{duration}"), 8);
    field(&mut out, &format!("{ns}"), 4);
    for s in sigs {
        field(&mut out, s.label, 16);
    }
    for _ in sigs {
        field(&mut out, "AgAgCl electrode", 80);
    }
    for s in sigs {
        field(&mut out, s.unit, 8);
    }
    for s in sigs {
        field(&mut out, &format!("{}", s.pmin), 8);
    }
    for s in sigs {
        field(&mut out, &format!("{}", s.pmax), 8);
    }
    for s in sigs {
        field(&mut out, &format!("{}", s.dmin), 8);
    }
    for s in sigs {
        field(&mut out, &format!("{}", s.dmax), 8);
    }
    for _ in sigs {
        field(&mut out, "HP:0Hz LP:0Hz", 80);
    }
    for s in sigs {
        field(&mut out, &format!("{}", s.spr), 8);
    }
    for _ in sigs {
        field(&mut out, "", 32);
    }
    assert_eq!(out.len(), 256 * (ns + 1));
    for r in 0..n_records {
        for s in sigs {
            if s.ann.is_empty() {
                for v in &s.digital[r * s.spr..(r + 1) * s.spr] {
                    out.extend(v.to_le_bytes());
                }
            } else {
                let mut b = s.ann[r].clone();
                assert!(b.len() <= 2 * s.spr);
                b.resize(2 * s.spr, 0);
                out.extend(b);
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn data_sig(
    label: &'static str,
    unit: &'static str,
    pmin: f64,
    pmax: f64,
    dmin: i32,
    dmax: i32,
    spr: usize,
    digital: Vec<i16>,
) -> Sig {
    Sig {
        label,
        unit,
        pmin,
        pmax,
        dmin,
        dmax,
        spr,
        digital,
        ann: vec![],
    }
}

/// A 3-record file: uV signal at 4 Hz (ranges not 1:1), mV signal at 4 Hz, V signal at 2 Hz,
/// plus an annotation signal.
fn synthetic() -> (Vec<u8>, Vec<Vec<i16>>) {
    let n_rec = 3;
    let d0: Vec<i16> = (0..4 * n_rec as i16).map(|i| i * 1000 - 5000).collect();
    let d1: Vec<i16> = (0..4 * n_rec as i16).map(|i| -i * 7 + 3).collect();
    let d2: Vec<i16> = (0..2 * n_rec as i16).map(|i| i - 2).collect();
    let ann = vec![
        b"+0\x14\x14\x00+0.5\x151.25\x14T1\x14\x00".to_vec(),
        b"+1\x14\x14\x00".to_vec(),
        b"+2\x14\x14\x00+2.75\x14T2\x14note\x14\x00".to_vec(),
    ];
    let sigs = vec![
        data_sig("EEG A", "uV", -100.0, 300.0, -32768, 32767, 4, d0.clone()),
        data_sig("EEG B", "mV", -5.0, 5.0, -2048, 2047, 4, d1.clone()),
        data_sig("Volt", "V", 0.0, 1.0, -10, 10, 2, d2.clone()),
        Sig {
            label: "EDF Annotations",
            unit: "",
            pmin: -1.0,
            pmax: 1.0,
            dmin: -32768,
            dmax: 32767,
            spr: 16,
            digital: vec![],
            ann,
        },
    ];
    (
        write_edf(&sigs, n_rec, n_rec as i64, 1.0, true),
        vec![d0, d1, d2],
    )
}

fn expect_phys(d: i16, pmin: f64, pmax: f64, dmin: i32, dmax: i32) -> f64 {
    (d as f64 - dmin as f64) * (pmax - pmin) / (dmax as f64 - dmin as f64) + pmin
}

#[test]
fn edf_synthetic_scaling_units_and_annotations() {
    let (bytes, dig) = synthetic();
    let edf = Edf::from_bytes(&bytes).unwrap();
    let h = edf.header();
    assert_eq!(h.n_signals, 4);
    assert_eq!(h.n_records, 3);
    assert!(h.is_edf_plus() && !h.is_discontinuous());
    assert_eq!(h.record_duration_s, 1.0);
    let s = edf.signals();
    assert_eq!(s[0].label, "EEG A");
    assert_eq!(s[0].transducer, "AgAgCl electrode");
    assert_eq!(s[0].prefiltering, "HP:0Hz LP:0Hz");
    assert_eq!((s[0].sfreq, s[2].sfreq), (4.0, 2.0));
    assert!(s[3].is_annotation && !s[0].is_annotation);
    assert_eq!(edf.ordinary_signals(), vec![0, 1, 2]);

    // digital round trip
    assert_eq!(edf.digital(0).unwrap(), dig[0]);
    assert_eq!(edf.digital(2).unwrap(), dig[2]);
    // physical + volts, per unit
    let params = [
        (-100.0, 300.0, -32768, 32767, 1e-6),
        (-5.0, 5.0, -2048, 2047, 1e-3),
        (0.0, 1.0, -10, 10, 1.0),
    ];
    for (k, &(pmin, pmax, dmin, dmax, unit)) in params.iter().enumerate() {
        let phys = edf.physical(k).unwrap();
        let volts = edf.volts(k).unwrap();
        for (i, &d) in dig[k].iter().enumerate() {
            let p = expect_phys(d, pmin, pmax, dmin, dmax);
            assert!(
                (phys[i] - p).abs() <= 1e-12 * p.abs().max(1.0),
                "sig {k} phys {i}"
            );
            assert!(
                (volts[i] - p * unit).abs() <= 1e-12 * (p * unit).abs().max(unit),
                "sig {k} volts {i}"
            );
        }
    }
    // (C, T) block, channel-major in request order
    let b = edf.data_volts(&[1, 0]).unwrap();
    assert_eq!((b.n_channels, b.n_times, b.sfreq), (2, 12, 4.0));
    assert_eq!(b.data[..12], edf.volts(1).unwrap()[..]);
    assert_eq!(b.data[12..], edf.volts(0).unwrap()[..]);
    // errors: mixed rates, annotation signal, out of range
    assert!(matches!(
        edf.data_volts(&[0, 2]),
        Err(EdfError::MixedSampleRates {
            first: 0,
            other: 2,
            ..
        })
    ));
    assert!(matches!(
        edf.data_volts(&[3]),
        Err(EdfError::AnnotationSignal(3))
    ));
    assert!(matches!(
        edf.digital(9),
        Err(EdfError::NoSuchSignal {
            index: 9,
            n_signals: 4
        })
    ));

    // annotations: timekeeping TALs skipped, multi-text TAL expanded
    let a = edf.annotations();
    assert_eq!(a.len(), 3);
    assert_eq!(
        (a[0].onset_s, a[0].duration_s, a[0].text.as_str()),
        (0.5, Some(1.25), "T1")
    );
    assert_eq!(
        (a[1].onset_s, a[1].duration_s, a[1].text.as_str()),
        (2.75, None, "T2")
    );
    assert_eq!(a[2].text, "note");
    assert_eq!(edf.record_starts_s(), &[0.0, 1.0, 2.0]);
}

#[test]
fn edf_unknown_unit_only_when_volts_requested() {
    let sigs = vec![
        data_sig("Temp", "degC", 0.0, 50.0, 0, 500, 2, vec![0, 250]),
        data_sig("EEG", "UV", -1.0, 1.0, -1, 1, 2, vec![1, -1]),
    ];
    let bytes = write_edf(&sigs, 1, 1, 0.5, false);
    let edf = Edf::from_bytes(&bytes).unwrap();
    assert!(!edf.header().is_edf_plus());
    assert_eq!(edf.signals()[0].sfreq, 4.0);
    assert_eq!(edf.physical(0).unwrap(), vec![0.0, 25.0]);
    let e = edf.volts(0).unwrap_err();
    assert!(matches!(e, EdfError::UnknownUnit { signal: 0, .. }), "{e}");
    assert!(e.to_string().contains("degC"));
    assert_eq!(edf.volts(1).unwrap(), vec![1e-6, -1e-6]); // case-insensitive "UV"
    assert!(edf.annotations().is_empty());
    assert_eq!(edf.record_starts_s(), &[0.0]);
}

#[test]
fn edf_n_records_minus_one_is_inferred() {
    let sigs = vec![data_sig(
        "X",
        "mV",
        -1.0,
        1.0,
        -100,
        100,
        2,
        vec![1, 2, 3, 4, 5, 6],
    )];
    let mut bytes = write_edf(&sigs, 3, -1, 1.0, false);
    bytes.push(7); // a partial trailing record is ignored
    let edf = Edf::from_bytes(&bytes).unwrap();
    assert_eq!(edf.header().n_records, 3);
    assert_eq!(edf.header().n_records_header, -1);
    assert_eq!(edf.digital(0).unwrap(), vec![1, 2, 3, 4, 5, 6]);
}

#[test]
fn edf_truncated_garbage_and_inconsistent_headers() {
    let (bytes, _) = synthetic();
    // truncated data
    for cut in [1usize, 100, bytes.len() - 256 * 5 - 1] {
        let e = Edf::from_bytes(&bytes[..bytes.len() - cut]).unwrap_err();
        assert!(matches!(e, EdfError::Truncated { .. }), "cut {cut}: {e}");
    }
    // truncated inside the signal headers / fixed header
    assert!(matches!(
        Edf::from_bytes(&bytes[..300]),
        Err(EdfError::Truncated {
            what: "signal headers",
            ..
        })
    ));
    assert!(matches!(
        Edf::from_bytes(&bytes[..100]),
        Err(EdfError::Truncated {
            what: "fixed header",
            ..
        })
    ));
    // garbage
    let garbage: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    assert!(matches!(
        Edf::from_bytes(&garbage),
        Err(EdfError::NotEdf(_))
    ));
    assert!(matches!(Edf::from_bytes(&[]), Err(EdfError::NotEdf(_))));
    assert!(matches!(
        Edf::from_bytes(b"hello"),
        Err(EdfError::NotEdf(_))
    ));
    // BDF-like version field
    let mut bdf = bytes.clone();
    bdf[..8].copy_from_slice(b"\xffBIOSEMI");
    assert!(matches!(Edf::from_bytes(&bdf), Err(EdfError::NotEdf(_))));
    // wrong header_bytes
    let mut wrong = bytes.clone();
    wrong[184..192].copy_from_slice(b"1024    ");
    let e = Edf::from_bytes(&wrong).unwrap_err();
    assert!(matches!(e, EdfError::InconsistentHeader(_)), "{e}");
    // non-numeric number of records
    let mut nonnum = bytes.clone();
    nonnum[236..244].copy_from_slice(b"abc     ");
    assert!(matches!(
        Edf::from_bytes(&nonnum),
        Err(EdfError::InvalidField { .. })
    ));
    // digital min == max on a data signal
    let sigs = vec![data_sig("X", "uV", -1.0, 1.0, 5, 5, 1, vec![5])];
    let e = Edf::from_bytes(&write_edf(&sigs, 1, 1, 1.0, false)).unwrap_err();
    assert!(matches!(e, EdfError::InconsistentHeader(_)), "{e}");
    // zero samples per record
    let sigs = vec![data_sig("X", "uV", -1.0, 1.0, -1, 1, 0, vec![])];
    assert!(matches!(
        Edf::from_bytes(&write_edf(&sigs, 1, 1, 1.0, false)),
        Err(EdfError::InconsistentHeader(_))
    ));
    // malformed TAL
    let sigs = vec![
        data_sig("X", "uV", -1.0, 1.0, -1, 1, 1, vec![0]),
        Sig {
            label: "EDF Annotations",
            unit: "",
            pmin: -1.0,
            pmax: 1.0,
            dmin: -32768,
            dmax: 32767,
            spr: 8,
            digital: vec![],
            ann: vec![b"+zz\x14T1\x14\x00".to_vec()],
        },
    ];
    assert!(matches!(
        Edf::from_bytes(&write_edf(&sigs, 1, 1, 1.0, true)),
        Err(EdfError::BadAnnotation { record: 0, .. })
    ));
    // every prefix of a valid file is an error, never a panic
    for n in (0..bytes.len()).step_by(37) {
        assert!(Edf::from_bytes(&bytes[..n]).is_err());
    }
    // random byte corruption never panics
    let mut state = 0x9e3779b97f4a7c15u64;
    for _ in 0..2000 {
        let mut b = bytes.clone();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let i = (state % b.len() as u64) as usize;
            b[i] = (state >> 40) as u8;
        }
        let _ = Edf::from_bytes(&b);
    }
}

#[test]
fn edf_record_duration_and_sample_rate_limits() {
    let (bytes, _) = synthetic();
    let with_duration = |d: &str| {
        let mut b = bytes.clone();
        let mut f = d.as_bytes().to_vec();
        f.resize(8, b' ');
        b[244..252].copy_from_slice(&f);
        Edf::from_bytes(&b)
    };
    // zero (ordinary signals need a rate), negative, subnormal, tiny, huge: one typed error
    // each, never a panic or an allocation sized from them
    for d in ["0", "-1", "4e-320", "1e-300", "1e-9", "1e30", "1e9"] {
        match with_duration(d) {
            Err(EdfError::InconsistentHeader(m)) => assert!(!m.is_empty(), "{d}"),
            other => panic!("duration {d}: {other:?}"),
        }
    }
    // not a number at all
    for d in ["nan", "inf", "x"] {
        assert!(
            matches!(with_duration(d), Err(EdfError::InvalidField { .. })),
            "duration {d}"
        );
    }
    // a legal other duration is accepted
    assert!(with_duration("2").is_ok());
}

#[test]
fn edf_open_missing_file_is_io_error() {
    let e = Edf::open("definitely/not/here.edf").unwrap_err();
    assert!(matches!(e, EdfError::Io { .. }));
}

#[test]
fn edf_real_eegmmidb_s001r04() {
    let Some(root) = eegmmidb_root() else { return };
    let edf = Edf::open(root.join("S001/S001R04.edf")).unwrap();
    assert_eq!(edf.warnings(), vec![], "a clean recording has no warnings");
    let h = edf.header();
    assert_eq!(h.n_signals, 65);
    assert_eq!(h.header_bytes, 16896);
    assert!(h.is_edf_plus() && h.reserved.starts_with("EDF+C"));
    assert_eq!(h.n_records, 125);
    assert_eq!(h.record_duration_s, 1.0);
    let s = edf.signals();
    assert_eq!(s[0].label, "Fc5.");
    assert_eq!(s[63].label, "Iz..");
    assert_eq!(s[64].label, "EDF Annotations");
    assert!(s[64].is_annotation);
    let eeg = edf.ordinary_signals();
    assert_eq!(eeg.len(), 64);
    for sig in &s[..64] {
        assert_eq!(sig.sfreq, 160.0);
        assert_eq!(sig.physical_dimension, "uV");
        assert_eq!((sig.physical_min, sig.physical_max), (-8092.0, 8092.0));
        assert_eq!((sig.digital_min, sig.digital_max), (-8092, 8092));
        assert_eq!(sig.gain(), 1.0);
    }
    // 1 count = 1 µV
    let dig = edf.digital(10).unwrap();
    let v = edf.volts(10).unwrap();
    assert_eq!(dig.len(), 20000);
    for (d, x) in dig.iter().zip(&v) {
        assert!((*d as f64 * 1e-6 - x).abs() < 1e-18);
    }
    let block = edf.data_volts(&eeg).unwrap();
    assert_eq!(
        (block.n_channels, block.n_times, block.sfreq),
        (64, 20000, 160.0)
    );
    assert_eq!(block.data[10 * 20000..11 * 20000], v[..]);
    // annotations: 15 T0, the rest T1/T2 with duration 4.1 s, T0/Tx alternating
    let a = edf.annotations();
    assert_eq!(a.len(), 30);
    assert_eq!(a.iter().filter(|x| x.text == "T0").count(), 15);
    let cues: Vec<_> = a
        .iter()
        .filter(|x| x.text == "T1" || x.text == "T2")
        .collect();
    assert_eq!(cues.len(), 15);
    for c in &cues {
        assert_eq!(c.duration_s, Some(4.1));
    }
    assert_eq!(a[0].onset_s, 0.0);
    assert_eq!(a[0].text, "T0");
    assert!(a.windows(2).all(|w| w[0].onset_s < w[1].onset_s));
    assert_eq!(edf.record_starts_s().len(), 125);
    assert_eq!(edf.record_starts_s()[7], 7.0);
    // a 123-record file
    let edf = Edf::open(root.join("S002/S002R04.edf")).unwrap();
    assert_eq!(edf.header().n_records, 123);
}

/// Suspicious but legal files are read, and each oddity is reported by `Edf::warnings`: a flat
/// channel, a duplicate label (case-insensitive), a unit in a non-standard spelling, an EDF+
/// file whose annotation signal's label is damaged (it then has no events).
#[test]
fn edf_warnings_for_suspicious_but_legal_files() {
    let (clean, _) = synthetic();
    assert_eq!(Edf::from_bytes(&clean).unwrap().warnings(), vec![]);
    let n_rec = 2;
    let d: Vec<i16> = (0..4 * n_rec as i16).collect();
    let mut sigs = vec![
        data_sig("C3", "uV", -100.0, 100.0, -100, 100, 4, d.clone()),
        data_sig("Flat", "uV", 7.0, 7.0, -100, 100, 4, d.clone()),
        data_sig("c3 ", "mv", -1.0, 1.0, -100, 100, 4, d.clone()),
        Sig {
            label: "EDF Annotatio",
            unit: "",
            pmin: -1.0,
            pmax: 1.0,
            dmin: -32768,
            dmax: 32767,
            spr: 8,
            digital: (0..8 * n_rec as i16).collect(),
            ann: vec![],
        },
    ];
    let edf = Edf::from_bytes(&write_edf(&sigs, n_rec, n_rec as i64, 1.0, true)).unwrap();
    let w = edf.warnings();
    assert_eq!(
        w,
        vec![
            EdfWarning::FlatChannel {
                signal: 1,
                label: "Flat".into(),
                value: 7.0
            },
            EdfWarning::DuplicateLabel {
                label: "c3".into(),
                first: 0,
                other: 2
            },
            EdfWarning::UnitSpelling {
                signal: 2,
                label: "c3".into(),
                written: "mv".into(),
                read_as: "mV"
            },
            EdfWarning::NoAnnotationSignal {
                near: Some("EDF Annotatio".into())
            },
        ],
        "{w:#?}"
    );
    for x in &w {
        assert!(!x.to_string().contains('\n'), "{x}");
    }
    assert!(edf.annotations().is_empty());
    // the flat channel still reads (as its constant), the mv one as millivolts
    assert!(edf
        .volts(1)
        .unwrap()
        .iter()
        .all(|&v| (v - 7e-6).abs() < 1e-18));
    // a plain EDF (not EDF+) without annotations is not warned about
    sigs.truncate(1);
    let plain = Edf::from_bytes(&write_edf(&sigs, n_rec, n_rec as i64, 1.0, false)).unwrap();
    assert_eq!(plain.warnings(), vec![]);
}
