//! EEG data: the PhysioNet EEGMMIDB motor-imagery epochs and the subject split of the
//! reference (`data_loaders/Load_PhysioNet_EEG_NoPrompt.py`, spec gated-and-protocols §2).
//!
//! * [`eegmmidb`]: EDF runs R04/R08/R12 → resampled, epoched trials ([`EpochSet`]:
//!   X (N, C, T) `f32` millivolts, y ∈ {0 = T1 left fist, 1 = T2 right fist}).
//! * [`resample`]: FFT resampling of a whole run, reproducing MNE's
//!   `raw.resample(sfreq, npad='auto')`.
//! * [`split`]: MT19937 + numpy `RandomState.permutation` + scikit-learn `train_test_split`,
//!   giving the reference's train/val/test subject lists bit for bit.
//! * [`cache`]: per-subject safetensors cache of epoched arrays keyed by the settings.
//! * [`input_filter`]: the optional causal IIR filter of the recordings
//!   ([`EegmmidbConfig::filter`]) as the model card records it for the engine.
//! * [`mnist`], [`digits`], [`image_set`], [`image_tasks`]: the image datasets of the paper
//!   models (MNIST test set, scikit-learn digits), their stratified splits and the
//!   image-sequence tasks (sdigits, smnist-10k).
//!
//! Shapes use N trials, C channels (64), T time samples (125/249/497 at 40/80/160 Hz).
//!
//! ```no_run
//! use qssm_trainer::data::{reference_subject_split, EegmmidbConfig, EpochCache};
//! let split = reference_subject_split(109, 2024);
//! let cfg = EegmmidbConfig::new("data/eegmmidb", 80);
//! let cache = EpochCache::new("cache/epochs");
//! let train = cache.load_subjects(&cfg, &split.train)?;
//! assert_eq!(train.n_times, 249);
//! # Ok::<(), qssm_trainer::data::EegError>(())
//! ```
pub mod cache;
pub mod digits;
pub mod eegmmidb;
pub mod image_set;
pub mod image_tasks;
pub mod input_filter;
pub mod mnist;
pub mod resample;
pub mod split;
pub mod synthetic;

pub use cache::{EpochCache, LOADER_VERSION};
pub use eegmmidb::{
    discover_subjects, load_subject, load_subjects, EegError, EegmmidbConfig, EpochSet,
    EEGMMIDB_CHANNELS, IMAGERY_RUNS,
};
pub use resample::{resample_channels, FftResampler};
pub use split::{
    legacy_permutation, reference_subject_split, subject_split, train_test_split, Mt19937,
    SubjectSplit,
};
