//! EDF / EDF+ reader: fixed and per-signal headers, data records, digital→physical scaling,
//! conversion to volts, and EDF+ time-stamped annotation lists (TALs).
//!
//! Format reference: "European Data Format" (Kemp et al. 1992) and the EDF+ extension
//! (Kemp & Olivan 2003, <https://www.edfplus.info/specs/>). The reference pipeline reads the
//! PhysioNet EEGMMIDB files with MNE's `mne.io.read_raw_edf` (through
//! `data_loaders/Load_PhysioNet_EEG_NoPrompt.py`); the scaling below follows MNE's
//! `mne/io/edf/edf.py` so that the volts produced here equal MNE's to the last bit or so.
//!
//! # Layout of an EDF file
//! * 256-byte fixed header ([`EdfHeader`]), ASCII, space padded;
//! * `ns` × 256-byte per-signal header ([`SignalHeader`]), stored field by field
//!   (all labels, then all transducers, ...);
//! * `n_records` data records; record `r` holds, for each signal `s` in order,
//!   `samples_per_record[s]` 16-bit little-endian two's-complement integers.
//!
//! # Units
//! * [`Edf::digital`] gives raw integers;
//! * [`Edf::physical`] gives values in the signal's own physical dimension (e.g. µV);
//! * [`Edf::volts`] and [`Edf::data_volts`] give **volts**, using the physical dimension
//!   (`nV`, `uV`/`µV`/`μV`, `mV`, `V`, case-insensitive). An unknown dimension is an
//!   [`EdfError::UnknownUnit`] when (and only when) volts are requested for that signal.
//!
//! # Example
//! ```no_run
//! use qssm_formats::edf::Edf;
//! let edf = Edf::open("S001/S001R04.edf")?;
//! let eeg = edf.ordinary_signals();              // all non-annotation signals
//! let block = edf.data_volts(&eeg)?;             // (C, T) channel-major, volts
//! println!("{} channels × {} samples at {} Hz", block.n_channels, block.n_times, block.sfreq);
//! for a in edf.annotations() {
//!     println!("{:.3} s {:?} {}", a.onset_s, a.duration_s, a.text);
//! }
//! # Ok::<(), qssm_formats::edf::EdfError>(())
//! ```
//!
//! The reader never panics on malformed input: every inconsistency is an [`EdfError`].

use std::path::{Path, PathBuf};

/// Label of the EDF+ annotation signal ("EDF Annotations", after trimming).
pub const ANNOTATION_LABEL: &str = "EDF Annotations";

/// Size in bytes of the fixed header and of one signal's header.
const BLOCK: usize = 256;

/// Errors from reading an EDF/EDF+ file. Messages are one line.
#[derive(Debug, thiserror::Error)]
pub enum EdfError {
    /// The file could not be read from disk.
    #[error("cannot read EDF file {path}: {source}")]
    Io {
        /// Path that was opened.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not an EDF file (wrong version field, too short to hold a header, ...).
    #[error("not an EDF file: {0}")]
    NotEdf(String),
    /// The file is shorter than its header says (header + n_records · record size).
    #[error("truncated EDF file: the {what} need {expected} bytes but only {actual} are present")]
    Truncated {
        /// What was being read ("fixed header", "signal headers", "data records").
        what: &'static str,
        /// Bytes required.
        expected: u64,
        /// Bytes available.
        actual: u64,
    },
    /// A numeric header field does not parse.
    #[error("invalid EDF header field {field}: {value:?} is not a valid number")]
    InvalidField {
        /// Name of the field, e.g. `"digital minimum of signal 3"`.
        field: String,
        /// Raw (trimmed) field text.
        value: String,
    },
    /// The header parses but is self-inconsistent (e.g. header bytes ≠ 256·(ns+1),
    /// digital minimum == maximum, non-positive samples per record).
    #[error("inconsistent EDF header: {0}")]
    InconsistentHeader(String),
    /// The physical dimension of a signal is not a known voltage unit.
    #[error("signal {signal} ({label}) has physical dimension {unit:?}, which is not a known voltage unit (nV, uV, µV, mV, V)")]
    UnknownUnit {
        /// Signal index.
        signal: usize,
        /// Signal label (trimmed).
        label: String,
        /// Physical dimension text (trimmed).
        unit: String,
    },
    /// A signal index is out of range.
    #[error("signal index {index} out of range (file has {n_signals} signals)")]
    NoSuchSignal {
        /// Requested index.
        index: usize,
        /// Number of signals in the file.
        n_signals: usize,
    },
    /// Sample data was requested from an "EDF Annotations" signal.
    #[error("signal {0} is an EDF Annotations signal, not a data signal")]
    AnnotationSignal(usize),
    /// Signals requested together have different sample rates.
    #[error("signals {first} and {other} have different sample rates ({first_sfreq} Hz vs {other_sfreq} Hz)")]
    MixedSampleRates {
        /// First requested signal.
        first: usize,
        /// Sample rate of `first`, Hz.
        first_sfreq: f64,
        /// Offending signal.
        other: usize,
        /// Sample rate of `other`, Hz.
        other_sfreq: f64,
    },
    /// An EDF+ annotation signal holds a malformed time-stamped annotation list.
    #[error("malformed EDF+ annotation in data record {record}: {reason}")]
    BadAnnotation {
        /// Data record index (0-based).
        record: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Something suspicious but legal in an EDF file: the reader reads it, and reports it through
/// [`Edf::warnings`] so a tool can tell its user (MNE warns about the same things).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EdfWarning {
    /// A data signal whose physical minimum equals its maximum: every sample reads as that
    /// value (a disconnected or mis-scaled channel).
    #[error("signal {signal} ({label}) is flat: physical minimum = maximum = {value}")]
    FlatChannel {
        /// signal index
        signal: usize,
        /// its label
        label: String,
        /// the physical value of every sample
        value: f64,
    },
    /// Two data signals with the same label (trimmed, case-insensitive): a reader that picks
    /// channels by name gets the first.
    #[error("signals {first} and {other} are both labelled {label:?}; picking by name takes signal {first}")]
    DuplicateLabel {
        /// the label
        label: String,
        /// the first signal with it
        first: usize,
        /// a later one
        other: usize,
    },
    /// An EDF+ file without an `EDF Annotations` signal: it has no readable events (cues).
    /// `near` names a signal whose label resembles `EDF Annotations` (a damaged label).
    #[error("EDF+ file without an 'EDF Annotations' signal (no events can be read){}", near.as_ref().map(|n| format!("; signal label {n:?} looks like a damaged one")).unwrap_or_default())]
    NoAnnotationSignal {
        /// a label resembling the annotation label
        near: Option<String>,
    },
    /// A physical dimension in a non-standard spelling (e.g. `mv`), read as the standard unit.
    #[error("signal {signal} ({label}): physical dimension {written:?} read as {read_as}")]
    UnitSpelling {
        /// signal index
        signal: usize,
        /// its label
        label: String,
        /// as written
        written: String,
        /// the unit it is read as
        read_as: &'static str,
    },
}

/// The 256-byte fixed header. Text fields are trimmed of trailing spaces.
#[derive(Debug, Clone, PartialEq)]
pub struct EdfHeader {
    /// Version field (always `"0"` for EDF, after trimming).
    pub version: String,
    /// Local patient identification (80 bytes).
    pub patient: String,
    /// Local recording identification (80 bytes).
    pub recording: String,
    /// Start date `dd.mm.yy` as written.
    pub start_date: String,
    /// Start time `hh.mm.ss` as written.
    pub start_time: String,
    /// Header size in bytes, = 256·(n_signals + 1).
    pub header_bytes: usize,
    /// Reserved field (44 bytes); `"EDF+C"` or `"EDF+D"` for EDF+ files.
    pub reserved: String,
    /// Number of data records in the file. When the header says −1 (unknown, allowed while
    /// recording) this is inferred from the file size (whole records only).
    pub n_records: usize,
    /// The raw "number of data records" header value (may be −1).
    pub n_records_header: i64,
    /// Duration of one data record, seconds (0 is allowed for annotation-only EDF+ files).
    pub record_duration_s: f64,
    /// Number of signals `ns`, including "EDF Annotations" signals.
    pub n_signals: usize,
}

impl EdfHeader {
    /// True for EDF+ files (reserved field starts with `"EDF+C"` or `"EDF+D"`).
    pub fn is_edf_plus(&self) -> bool {
        self.reserved.starts_with("EDF+C") || self.reserved.starts_with("EDF+D")
    }

    /// True for discontinuous EDF+ files (`"EDF+D"`): record start times are then given by
    /// [`Edf::record_starts_s`], not by `r · record_duration_s`.
    pub fn is_discontinuous(&self) -> bool {
        self.reserved.starts_with("EDF+D")
    }

    /// Total duration covered by the data records, seconds (`n_records · record_duration_s`).
    pub fn duration_s(&self) -> f64 {
        self.n_records as f64 * self.record_duration_s
    }
}

/// One signal's header (256 bytes spread over the per-signal header block).
#[derive(Debug, Clone, PartialEq)]
pub struct SignalHeader {
    /// Label, trailing spaces trimmed (e.g. `"Fc5."` in EEGMMIDB; dots are part of the label).
    pub label: String,
    /// Transducer type (80 bytes), trimmed.
    pub transducer: String,
    /// Physical dimension (e.g. `"uV"`), trimmed.
    pub physical_dimension: String,
    /// Physical minimum, in `physical_dimension` units.
    pub physical_min: f64,
    /// Physical maximum, in `physical_dimension` units.
    pub physical_max: f64,
    /// Digital minimum (integer count).
    pub digital_min: i32,
    /// Digital maximum (integer count); differs from `digital_min` for data signals.
    pub digital_max: i32,
    /// Prefiltering text, trimmed (informational only; nothing is applied).
    pub prefiltering: String,
    /// Number of samples of this signal in each data record.
    pub samples_per_record: usize,
    /// Reserved (32 bytes), trimmed.
    pub reserved: String,
    /// Sample rate in Hz = `samples_per_record / record_duration_s` (0 when the record
    /// duration is 0, which only annotation-only EDF+ files use).
    pub sfreq: f64,
    /// True for an EDF+ "EDF Annotations" signal (holds TALs, not samples).
    pub is_annotation: bool,
}

impl SignalHeader {
    /// Physical units per digital count: `(physical_max − physical_min)/(digital_max − digital_min)`.
    pub fn gain(&self) -> f64 {
        (self.physical_max - self.physical_min)
            / (self.digital_max as f64 - self.digital_min as f64)
    }

    /// Physical value of digital 0: `physical_min − digital_min · gain`, so that
    /// `physical = digital · gain + offset` (MNE's `cal`/`offsets`, algebraically the EDF formula
    /// `(digital − dmin)·(pmax − pmin)/(dmax − dmin) + pmin`).
    pub fn offset(&self) -> f64 {
        self.physical_min - self.digital_min as f64 * self.gain()
    }

    /// Volts per physical unit for this signal's physical dimension, or `None` if the
    /// dimension is not a voltage. Accepts `nV`, `uV`, `µV` (U+00B5), `μV` (U+03BC), `mV`,
    /// `V`, case-insensitively.
    pub fn volts_per_unit(&self) -> Option<f64> {
        volts_per_unit(&self.physical_dimension)
    }
}

pub use crate::units::volts_per_unit;

/// One EDF+ annotation (from a TAL with non-empty text).
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// Onset in seconds relative to the file start (EDF+ start date/time).
    pub onset_s: f64,
    /// Duration in seconds, if the TAL gives one.
    pub duration_s: Option<f64>,
    /// Annotation text (UTF-8, lossily decoded), e.g. `"T1"`.
    pub text: String,
}

/// Samples of several data signals with a common sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalBlock {
    /// Channel-major samples, shape (C, T): `data[c * n_times + t]`, in **volts**.
    pub data: Vec<f64>,
    /// C: number of channels (signals requested, in request order).
    pub n_channels: usize,
    /// T: number of samples per channel (`n_records · samples_per_record`).
    pub n_times: usize,
    /// Common sample rate, Hz.
    pub sfreq: f64,
}

/// A parsed EDF/EDF+ file held in memory.
#[derive(Debug, Clone)]
pub struct Edf {
    header: EdfHeader,
    signals: Vec<SignalHeader>,
    /// Byte offset of each signal inside a data record.
    signal_offsets: Vec<usize>,
    /// Bytes per data record.
    record_bytes: usize,
    /// The data records (n_records · record_bytes bytes).
    records: Vec<u8>,
    annotations: Vec<Annotation>,
    record_starts_s: Vec<f64>,
}

/// Latin-1 decode (EDF headers are ASCII; some writers put 0xB5 'µ' in units) and trim.
fn text(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| b as char)
        .collect::<String>()
        .trim_matches(|c: char| c == ' ' || c == '\0')
        .to_string()
}

pub use crate::units::{MAX_SFREQ_HZ, MIN_SFREQ_HZ};

fn parse_f64(bytes: &[u8], field: impl Fn() -> String) -> Result<f64, EdfError> {
    let s = text(bytes);
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(EdfError::InvalidField {
            field: field(),
            value: s,
        }),
    }
}

fn parse_int(bytes: &[u8], field: impl Fn() -> String) -> Result<i64, EdfError> {
    let s = text(bytes);
    if let Ok(v) = s.parse::<i64>() {
        return Ok(v);
    }
    // Some writers put "8092.0"; accept integral decimals.
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 => Ok(v as i64),
        _ => Err(EdfError::InvalidField {
            field: field(),
            value: s,
        }),
    }
}

impl Edf {
    /// Read and parse an EDF/EDF+ file from disk. See [`Edf::from_bytes`].
    ///
    /// # Errors
    /// [`EdfError::Io`] if the file cannot be read, otherwise as [`Edf::from_bytes`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, EdfError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| EdfError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Parse an EDF/EDF+ file held in memory (headers, data records, annotations).
    ///
    /// Bytes after the last data record are ignored. When the header gives −1 data records,
    /// the count is inferred from the file size (whole records only).
    ///
    /// # Errors
    /// * [`EdfError::NotEdf`]: version field is not `"0"` or the file is shorter than a
    ///   header without looking like EDF;
    /// * [`EdfError::Truncated`]: fewer bytes than header + n_records · record size;
    /// * [`EdfError::InvalidField`]: a numeric field does not parse;
    /// * [`EdfError::InconsistentHeader`]: header bytes ≠ 256·(ns+1), digital min == max,
    ///   samples per record < 1, negative record duration, an ordinary signal whose sample rate
    ///   (samples per record / record duration) is outside [[`MIN_SFREQ_HZ`], [`MAX_SFREQ_HZ`]]
    ///   (a record duration of 0 is only for annotation-only files), ...;
    /// * [`EdfError::BadAnnotation`]: malformed EDF+ TAL.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EdfError> {
        let len = bytes.len() as u64;
        // --- fixed header
        let looks_like_edf = bytes.len() >= 8 && &bytes[..8] == b"0       ";
        if bytes.len() < BLOCK {
            if looks_like_edf {
                return Err(EdfError::Truncated {
                    what: "fixed header",
                    expected: BLOCK as u64,
                    actual: len,
                });
            }
            return Err(EdfError::NotEdf(format!(
                "{} bytes, shorter than the 256-byte header",
                bytes.len()
            )));
        }
        let h = &bytes[..BLOCK];
        let version = text(&h[0..8]);
        if version != "0" || h[0] != b'0' {
            return Err(EdfError::NotEdf(format!(
                "version field is {:?}, expected \"0\"",
                text(&h[0..8])
            )));
        }
        let header_bytes_raw = parse_int(&h[184..192], || "header bytes".into())?;
        let n_records_header = parse_int(&h[236..244], || "number of data records".into())?;
        let record_duration_s = parse_f64(&h[244..252], || "data record duration".into())?;
        let ns_raw = parse_int(&h[252..256], || "number of signals".into())?;
        if ns_raw < 1 {
            return Err(EdfError::InconsistentHeader(format!(
                "number of signals is {ns_raw}, must be at least 1"
            )));
        }
        let ns = ns_raw as usize;
        let expected_header = BLOCK as i64 * (ns_raw + 1);
        if header_bytes_raw != expected_header {
            return Err(EdfError::InconsistentHeader(format!(
                "header bytes field is {header_bytes_raw} but 256·(ns+1) = {expected_header} for ns = {ns}"
            )));
        }
        let header_bytes = expected_header as usize;
        if record_duration_s < 0.0 {
            return Err(EdfError::InconsistentHeader(format!(
                "data record duration is negative ({record_duration_s} s)"
            )));
        }
        if n_records_header < -1 {
            return Err(EdfError::InconsistentHeader(format!(
                "number of data records is {n_records_header}"
            )));
        }
        if bytes.len() < header_bytes {
            return Err(EdfError::Truncated {
                what: "signal headers",
                expected: header_bytes as u64,
                actual: len,
            });
        }

        // --- per-signal headers: field-major layout
        let sh = &bytes[BLOCK..header_bytes];
        let widths = [16usize, 80, 8, 8, 8, 8, 8, 80, 8, 32];
        let mut starts = [0usize; 10];
        let mut acc = 0;
        for (k, w) in widths.iter().enumerate() {
            starts[k] = acc;
            acc += w * ns;
        }
        let field = |k: usize, s: usize| -> &[u8] {
            let a = starts[k] + s * widths[k];
            &sh[a..a + widths[k]]
        };
        let mut signals = Vec::with_capacity(ns);
        for s in 0..ns {
            let label = text(field(0, s));
            let physical_min =
                parse_f64(field(3, s), || format!("physical minimum of signal {s}"))?;
            let physical_max =
                parse_f64(field(4, s), || format!("physical maximum of signal {s}"))?;
            let digital_min = parse_int(field(5, s), || format!("digital minimum of signal {s}"))?;
            let digital_max = parse_int(field(6, s), || format!("digital maximum of signal {s}"))?;
            let spr = parse_int(field(8, s), || format!("samples per record of signal {s}"))?;
            let is_annotation = label == ANNOTATION_LABEL;
            for (name, v) in [("minimum", digital_min), ("maximum", digital_max)] {
                if !(i16::MIN as i64..=i16::MAX as i64).contains(&v) {
                    return Err(EdfError::InconsistentHeader(format!(
                        "digital {name} of signal {s} ({label}) is {v}, outside the 16-bit range"
                    )));
                }
            }
            if !is_annotation && digital_min == digital_max {
                return Err(EdfError::InconsistentHeader(format!(
                    "digital minimum equals digital maximum ({digital_min}) for signal {s} ({label})"
                )));
            }
            if !(1..=(1 << 28)).contains(&spr) {
                return Err(EdfError::InconsistentHeader(format!(
                    "samples per record of signal {s} ({label}) is {spr}"
                )));
            }
            let samples_per_record = spr as usize;
            let sfreq = if record_duration_s > 0.0 {
                samples_per_record as f64 / record_duration_s
            } else {
                0.0
            };
            // checked before anything is sized from it (resampling plans, sample buffers)
            if !is_annotation && !(MIN_SFREQ_HZ..=MAX_SFREQ_HZ).contains(&sfreq) {
                return Err(EdfError::InconsistentHeader(format!(
                    "signal {s} ({label}): {samples_per_record} samples per {record_duration_s} s \
                     record is a sample rate of {sfreq} Hz, outside [{MIN_SFREQ_HZ}, {MAX_SFREQ_HZ}] Hz"
                )));
            }
            signals.push(SignalHeader {
                label,
                transducer: text(field(1, s)),
                physical_dimension: text(field(2, s)),
                physical_min,
                physical_max,
                digital_min: digital_min as i32,
                digital_max: digital_max as i32,
                prefiltering: text(field(7, s)),
                samples_per_record,
                reserved: text(field(9, s)),
                sfreq,
                is_annotation,
            });
        }

        // --- data records
        let mut signal_offsets = Vec::with_capacity(ns);
        let mut record_bytes = 0usize;
        for sig in &signals {
            signal_offsets.push(record_bytes);
            record_bytes += 2 * sig.samples_per_record;
        }
        let available = (bytes.len() - header_bytes) as u64;
        let n_records = if n_records_header == -1 {
            (available / record_bytes as u64) as usize
        } else {
            let need = (n_records_header as u64)
                .checked_mul(record_bytes as u64)
                .ok_or_else(|| {
                    EdfError::InconsistentHeader(format!(
                        "{n_records_header} data records of {record_bytes} bytes overflow"
                    ))
                })?;
            if need > available {
                return Err(EdfError::Truncated {
                    what: "data records",
                    expected: header_bytes as u64 + need,
                    actual: len,
                });
            }
            n_records_header as usize
        };
        let data_len = n_records * record_bytes;
        let records = bytes[header_bytes..header_bytes + data_len].to_vec();

        let header = EdfHeader {
            version,
            patient: text(&h[8..88]),
            recording: text(&h[88..168]),
            start_date: text(&h[168..176]),
            start_time: text(&h[176..184]),
            header_bytes,
            reserved: text(&h[192..236]),
            n_records,
            n_records_header,
            record_duration_s,
            n_signals: ns,
        };

        let mut edf = Edf {
            header,
            signals,
            signal_offsets,
            record_bytes,
            records,
            annotations: Vec::new(),
            record_starts_s: Vec::new(),
        };
        edf.parse_annotations()?;
        Ok(edf)
    }

    /// Raw bytes of signal `s` in record `r`.
    fn chunk(&self, r: usize, s: usize) -> &[u8] {
        let a = r * self.record_bytes + self.signal_offsets[s];
        &self.records[a..a + 2 * self.signals[s].samples_per_record]
    }

    fn parse_annotations(&mut self) -> Result<(), EdfError> {
        let ann_sigs: Vec<usize> = (0..self.signals.len())
            .filter(|&s| self.signals[s].is_annotation)
            .collect();
        let mut annotations = Vec::new();
        let mut starts = Vec::with_capacity(self.header.n_records);
        for r in 0..self.header.n_records {
            let mut record_start = None;
            for (k, &s) in ann_sigs.iter().enumerate() {
                let tals = parse_tals(self.chunk(r, s), r)?;
                for (i, tal) in tals.into_iter().enumerate() {
                    if tal.texts.is_empty() {
                        // The first TAL of the first annotation signal is the timekeeping TAL.
                        if k == 0 && i == 0 {
                            record_start = Some(tal.onset_s);
                        }
                        continue;
                    }
                    for t in tal.texts {
                        annotations.push(Annotation {
                            onset_s: tal.onset_s,
                            duration_s: tal.duration_s,
                            text: t,
                        });
                    }
                }
            }
            starts.push(record_start.unwrap_or(r as f64 * self.header.record_duration_s));
        }
        self.annotations = annotations;
        self.record_starts_s = starts;
        Ok(())
    }

    /// The fixed header.
    pub fn header(&self) -> &EdfHeader {
        &self.header
    }

    /// All signal headers, in file order (including "EDF Annotations" signals).
    pub fn signals(&self) -> &[SignalHeader] {
        &self.signals
    }

    /// Suspicious but legal features of the file ([`EdfWarning`]), in signal order: flat
    /// channels, duplicate labels, an EDF+ file without an annotation signal, units in a
    /// non-standard spelling.
    pub fn warnings(&self) -> Vec<EdfWarning> {
        let mut out = Vec::new();
        let mut seen: Vec<(String, usize)> = Vec::new();
        for (s, sig) in self.signals.iter().enumerate() {
            if sig.is_annotation {
                continue;
            }
            if sig.physical_min == sig.physical_max {
                out.push(EdfWarning::FlatChannel {
                    signal: s,
                    label: sig.label.clone(),
                    value: sig.physical_min,
                });
            }
            let key = sig.label.trim().to_lowercase();
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                out.push(EdfWarning::DuplicateLabel {
                    label: sig.label.clone(),
                    first: *first,
                    other: s,
                });
            } else {
                seen.push((key, s));
            }
            let written = sig.physical_dimension.trim();
            let canonical = ["V", "mV", "uV", "\u{b5}V", "\u{3bc}V", "nV"];
            if let Some(v) = volts_per_unit(written) {
                if !canonical.contains(&written) {
                    let read_as = if v >= 1.0 {
                        "V"
                    } else if v >= 1e-3 {
                        "mV"
                    } else if v >= 1e-6 {
                        "µV"
                    } else {
                        "nV"
                    };
                    out.push(EdfWarning::UnitSpelling {
                        signal: s,
                        label: sig.label.clone(),
                        written: written.to_string(),
                        read_as,
                    });
                }
            }
        }
        if self.header.is_edf_plus() && !self.signals.iter().any(|s| s.is_annotation) {
            let near = self.signals.iter().map(|s| s.label.clone()).find(|l| {
                let l = l.to_lowercase();
                l.contains("annot") || l.starts_with("edf")
            });
            out.push(EdfWarning::NoAnnotationSignal { near });
        }
        out
    }

    /// Indices of the ordinary (non-annotation) signals, in file order.
    pub fn ordinary_signals(&self) -> Vec<usize> {
        (0..self.signals.len())
            .filter(|&s| !self.signals[s].is_annotation)
            .collect()
    }

    /// EDF+ annotations with non-empty text, in file order (record by record). The per-record
    /// timekeeping TALs are not included (see [`Edf::record_starts_s`]). Empty for plain EDF.
    pub fn annotations(&self) -> &[Annotation] {
        &self.annotations
    }

    /// Start time of each data record, seconds from the file start: from the EDF+ timekeeping
    /// TAL when present, otherwise `r · record_duration_s`. Length `n_records`.
    pub fn record_starts_s(&self) -> &[f64] {
        &self.record_starts_s
    }

    fn check_data_signal(&self, signal: usize) -> Result<&SignalHeader, EdfError> {
        let sig = self.signals.get(signal).ok_or(EdfError::NoSuchSignal {
            index: signal,
            n_signals: self.signals.len(),
        })?;
        if sig.is_annotation {
            return Err(EdfError::AnnotationSignal(signal));
        }
        Ok(sig)
    }

    /// Raw digital samples of one data signal, all records concatenated; length
    /// `n_records · samples_per_record`.
    ///
    /// # Errors
    /// [`EdfError::NoSuchSignal`], [`EdfError::AnnotationSignal`].
    pub fn digital(&self, signal: usize) -> Result<Vec<i16>, EdfError> {
        let spr = self.check_data_signal(signal)?.samples_per_record;
        let mut out = Vec::with_capacity(self.header.n_records * spr);
        for r in 0..self.header.n_records {
            out.extend(
                self.chunk(r, signal)
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]])),
            );
        }
        Ok(out)
    }

    fn scaled(&self, signal: usize, factor: f64, out: &mut Vec<f64>) {
        let sig = &self.signals[signal];
        let (gain, offset) = (sig.gain(), sig.offset());
        for r in 0..self.header.n_records {
            out.extend(self.chunk(r, signal).chunks_exact(2).map(|b| {
                let d = i16::from_le_bytes([b[0], b[1]]) as f64;
                // MNE's order of operations: (d·cal + offset)·unit.
                (d * gain + offset) * factor
            }));
        }
    }

    /// Physical samples of one data signal in its own physical dimension
    /// (`digital · gain + offset`); length `n_records · samples_per_record`.
    ///
    /// # Errors
    /// [`EdfError::NoSuchSignal`], [`EdfError::AnnotationSignal`].
    pub fn physical(&self, signal: usize) -> Result<Vec<f64>, EdfError> {
        let sig = self.check_data_signal(signal)?;
        let mut out = Vec::with_capacity(self.header.n_records * sig.samples_per_record);
        self.scaled(signal, 1.0, &mut out);
        Ok(out)
    }

    /// Samples of one data signal in **volts**; length `n_records · samples_per_record`.
    ///
    /// # Errors
    /// [`EdfError::NoSuchSignal`], [`EdfError::AnnotationSignal`], [`EdfError::UnknownUnit`].
    pub fn volts(&self, signal: usize) -> Result<Vec<f64>, EdfError> {
        let block = self.data_volts(&[signal])?;
        Ok(block.data)
    }

    /// Samples of several data signals in **volts**, channel-major (C, T), channels in the
    /// order requested. All signals must be ordinary (non-annotation) and share one sample
    /// rate. Records are concatenated back to back: gaps of a discontinuous EDF+D file are not
    /// filled (see [`Edf::record_starts_s`]).
    ///
    /// # Errors
    /// [`EdfError::NoSuchSignal`], [`EdfError::AnnotationSignal`],
    /// [`EdfError::MixedSampleRates`], [`EdfError::UnknownUnit`].
    pub fn data_volts(&self, signals: &[usize]) -> Result<SignalBlock, EdfError> {
        let mut factors = Vec::with_capacity(signals.len());
        let mut spr = None;
        for &s in signals {
            let sig = self.check_data_signal(s)?;
            match spr {
                None => spr = Some((s, sig.samples_per_record)),
                Some((first, n)) if n != sig.samples_per_record => {
                    return Err(EdfError::MixedSampleRates {
                        first,
                        first_sfreq: self.signals[first].sfreq,
                        other: s,
                        other_sfreq: sig.sfreq,
                    })
                }
                _ => {}
            }
            let f = sig.volts_per_unit().ok_or_else(|| EdfError::UnknownUnit {
                signal: s,
                label: sig.label.clone(),
                unit: sig.physical_dimension.clone(),
            })?;
            factors.push(f);
        }
        let (n_times, sfreq) = match spr {
            Some((first, n)) => (n * self.header.n_records, self.signals[first].sfreq),
            None => (0, 0.0),
        };
        let mut data = Vec::with_capacity(n_times * signals.len());
        for (&s, &f) in signals.iter().zip(&factors) {
            self.scaled(s, f, &mut data);
        }
        Ok(SignalBlock {
            data,
            n_channels: signals.len(),
            n_times,
            sfreq,
        })
    }
}

/// One parsed TAL.
struct Tal {
    onset_s: f64,
    duration_s: Option<f64>,
    texts: Vec<String>,
}

/// Parse the TALs of one annotation-signal chunk:
/// `[+-]onset[\x15duration]\x14text\x14text...\x14\x00`, repeated, then \x00 padding.
fn parse_tals(chunk: &[u8], record: usize) -> Result<Vec<Tal>, EdfError> {
    let bad = |reason: String| EdfError::BadAnnotation { record, reason };
    let mut out = Vec::new();
    for tal in chunk.split(|&b| b == 0) {
        if tal.is_empty() {
            continue; // padding or separator
        }
        let mut parts = tal.split(|&b| b == 0x14);
        let stamp = parts.next().unwrap_or(&[]);
        let mut st = stamp.splitn(2, |&b| b == 0x15);
        let onset_txt = String::from_utf8_lossy(st.next().unwrap_or(&[])).to_string();
        let onset_s = parse_tal_number(&onset_txt)
            .ok_or_else(|| bad(format!("onset {onset_txt:?} is not a number")))?;
        let duration_s = match st.next() {
            None => None,
            Some([]) => None,
            Some(d) => {
                let d = String::from_utf8_lossy(d).to_string();
                Some(
                    parse_tal_number(&d)
                        .filter(|v| *v >= 0.0)
                        .ok_or_else(|| bad(format!("duration {d:?} is not a number")))?,
                )
            }
        };
        if tal.last() != Some(&0x14) {
            return Err(bad(format!(
                "TAL starting {onset_txt:?} does not end with \\x14 before \\x00"
            )));
        }
        let texts = parts
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).to_string())
            .collect();
        out.push(Tal {
            onset_s,
            duration_s,
            texts,
        });
    }
    Ok(out)
}

fn parse_tal_number(s: &str) -> Option<f64> {
    let s = s.trim();
    let body = s.strip_prefix('+').unwrap_or(s);
    if body.is_empty() || body.starts_with('+') {
        return None;
    }
    body.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tal_parsing() {
        let chunk = b"+0\x14\x14\x00+1.5\x150.25\x14T1\x14extra\x14\x00-2\x14T0\x14\x00\x00\x00";
        let tals = parse_tals(chunk, 0).unwrap();
        assert_eq!(tals.len(), 3);
        assert!(tals[0].texts.is_empty());
        assert_eq!(tals[1].onset_s, 1.5);
        assert_eq!(tals[1].duration_s, Some(0.25));
        assert_eq!(tals[1].texts, vec!["T1".to_string(), "extra".to_string()]);
        assert_eq!(tals[2].onset_s, -2.0);
        assert_eq!(tals[2].duration_s, None);
        assert!(parse_tals(b"+x\x14a\x14\x00", 3).is_err());
        assert!(parse_tals(b"+1\x14a\x00", 3).is_err());
    }

    #[test]
    fn units() {
        assert_eq!(volts_per_unit("uV"), Some(1e-6));
        assert_eq!(volts_per_unit("UV"), Some(1e-6));
        assert_eq!(volts_per_unit("\u{b5}V"), Some(1e-6));
        assert_eq!(volts_per_unit("mV"), Some(1e-3));
        assert_eq!(volts_per_unit("V"), Some(1.0));
        assert_eq!(volts_per_unit("nV"), Some(1e-9));
        assert_eq!(volts_per_unit("degC"), None);
        assert_eq!(volts_per_unit(""), None);
    }
}
