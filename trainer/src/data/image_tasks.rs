//! The image-sequence tasks of the paper models (spec hqc-mamba-and-quantum-train §6.3): an
//! image read as a sequence of its pixels in raster order, one feature per step, 10 classes.
//!
//! * [`ImageTask::Sdigits`]: scikit-learn's digits (`data/digits`), 8×8 → T = 64, pixel/16; a
//!   stratified 1,437 / 360 train/test split.
//! * [`ImageTask::Smnist10k`]: the MNIST test set (`data/mnist`), 28×28 → T = 784,
//!   (pixel/255 − 0.1307)/0.3081 (§3.3); a stratified 8,000 / 2,000 train/test split.
//!
//! Both splits come from the seed; the validation set for model selection is a further
//! stratified 10 % of the training part (the spec's protocols have none: the paper reports
//! test accuracy per epoch).
use super::digits::read_digits;
use super::image_set::{stratified_split, DatasetError, ImageSet};
use super::mnist::read_mnist;
use std::path::Path;

/// MNIST's pixel mean and standard deviation (on [0, 1] pixels).
pub const MNIST_MEAN: f32 = 0.1307;
/// See [`MNIST_MEAN`].
pub const MNIST_STD: f32 = 0.3081;

/// One of the image-sequence tasks (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageTask {
    /// sequential scikit-learn digits
    Sdigits,
    /// sequential MNIST on the test set
    Smnist10k,
}

/// The three splits of an image task.
#[derive(Clone, Debug)]
pub struct ImageSplits {
    /// training images
    pub train: ImageSet,
    /// validation images (model selection)
    pub val: ImageSet,
    /// test images
    pub test: ImageSet,
}

impl ImageTask {
    /// The protocol's name (`sdigits`, `smnist-10k`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sdigits => "sdigits",
            Self::Smnist10k => "smnist-10k",
        }
    }

    /// The bundled data folder.
    pub fn default_dir(self) -> &'static str {
        match self {
            Self::Sdigits => "data/digits",
            Self::Smnist10k => "data/mnist",
        }
    }

    /// Test images of the protocol's split.
    pub fn n_test(self) -> usize {
        match self {
            Self::Sdigits => 360,
            Self::Smnist10k => 2000,
        }
    }

    /// Reads the dataset from `dir` with the task's pixel scaling. Errors: those of the
    /// readers ([`DatasetError`]), naming the file.
    pub fn load(self, dir: &Path) -> Result<ImageSet, DatasetError> {
        self.load_normalised(dir, (MNIST_MEAN, MNIST_STD))
    }

    /// [`Self::load`] with MNIST's pixels scaled as (pixel/255 − mean)/std (`smnist-10k`;
    /// qt-liu's notebook uses (0.5, 0.5)); `sdigits` ignores it (pixel/16).
    pub fn load_normalised(
        self,
        dir: &Path,
        (mean, std): (f32, f32),
    ) -> Result<ImageSet, DatasetError> {
        match self {
            Self::Sdigits => read_digits(&dir.join("digits.csv.gz")),
            Self::Smnist10k => {
                let mut set = read_mnist(
                    &dir.join("t10k-images-idx3-ubyte.gz"),
                    &dir.join("t10k-labels-idx1-ubyte.gz"),
                )?;
                set.x.iter_mut().for_each(|v| *v = (*v - mean) / std);
                Ok(set)
            }
        }
    }

    /// The protocol's stratified train/test split of `set` from `seed`, and a stratified
    /// 10 % of the training part (from `seed + 1`) as the validation set. Errors if the set
    /// has fewer images than the split needs.
    pub fn split(self, set: &ImageSet, seed: u64) -> Result<ImageSplits, DatasetError> {
        let n_test = self.n_test();
        if set.len() < n_test + 20 {
            return Err(DatasetError::Format {
                path: self.default_dir().into(),
                reason: format!(
                    "{}: {} images, the split needs more than {n_test}",
                    self.name(),
                    set.len()
                ),
            });
        }
        let (train_idx, test_idx) = stratified_split(&set.y, n_test, seed);
        let train_all = set.subset(&train_idx);
        let (fit_idx, val_idx) =
            stratified_split(&train_all.y, train_all.len() / 10, seed.wrapping_add(1));
        Ok(ImageSplits {
            train: train_all.subset(&fit_idx),
            val: train_all.subset(&val_idx),
            test: set.subset(&test_idx),
        })
    }
}
