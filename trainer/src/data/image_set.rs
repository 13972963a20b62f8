//! Labelled image datasets of the paper models (spec hqc-mamba-and-quantum-train §6):
//! [`ImageSet`] (N images of H×W pixels scaled to [0, 1], labels 0..K−1), read by
//! [`super::mnist`] (the MNIST test set) and [`super::digits`] (scikit-learn's digits), and the
//! stratified random split of the offline protocols ([`stratified_split`]: smnist-10k
//! 8,000 / 2,000, sdigits 1,437 / 360).
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

/// Images and labels.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSet {
    /// (N, H·W) row-major pixels in [0, 1]
    pub x: Vec<f32>,
    /// (N) labels 0..K−1
    pub y: Vec<u8>,
    /// H: rows per image
    pub height: usize,
    /// W: columns per image
    pub width: usize,
    /// K: classes
    pub n_classes: usize,
}

impl ImageSet {
    /// N: images.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Pixels per image (H·W): the sequence length T when read as a pixel sequence.
    pub fn pixels(&self) -> usize {
        self.height * self.width
    }

    /// Image i (H·W).
    pub fn image(&self, i: usize) -> &[f32] {
        &self.x[i * self.pixels()..(i + 1) * self.pixels()]
    }

    /// Images per class (K).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.n_classes];
        for &y in &self.y {
            c[y as usize] += 1;
        }
        c
    }

    /// The images at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> ImageSet {
        ImageSet {
            x: idx
                .iter()
                .flat_map(|&i| self.image(i).iter().copied())
                .collect(),
            y: idx.iter().map(|&i| self.y[i]).collect(),
            height: self.height,
            width: self.width,
            n_classes: self.n_classes,
        }
    }
}

/// Why a dataset file cannot be read. Each message is one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The file cannot be opened or decompressed.
    #[error("{path}: {source}")]
    Io {
        /// the file
        path: PathBuf,
        /// why
        #[source]
        source: std::io::Error,
    },
    /// The content does not follow the format.
    #[error("{path}: {reason}")]
    Format {
        /// the file
        path: PathBuf,
        /// what is wrong
        reason: String,
    },
}

/// Reads a gzip file whole.
pub(super) fn read_gz(path: &std::path::Path) -> Result<Vec<u8>, DatasetError> {
    use std::io::Read;
    let io = |source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(f)
        .read_to_end(&mut out)
        .map_err(io)?;
    Ok(out)
}

/// A stratified random split: (train, test) indices with exactly `n_test` test items, each
/// class contributing in proportion to its size (largest-remainder rounding, ties to the
/// smaller class index), drawn per class with a ChaCha8 shuffle seeded by `seed`; both lists
/// sorted. The same labels and seed give the same split. (scikit-learn's
/// `StratifiedShuffleSplit` allocates the same way up to tie breaking but draws with numpy's
/// generator, so its indices differ.) Panics if `n_test` exceeds the number of labels.
pub fn stratified_split(labels: &[u8], n_test: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let n = labels.len();
    assert!(n_test <= n, "stratified_split: {n_test} test items of {n}");
    let k = labels.iter().map(|&y| y as usize + 1).max().unwrap_or(0);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &y) in labels.iter().enumerate() {
        by_class[y as usize].push(i);
    }
    // proportional allocation, largest remainders first
    let quota: Vec<f64> = by_class
        .iter()
        .map(|c| c.len() as f64 * n_test as f64 / n.max(1) as f64)
        .collect();
    let mut take: Vec<usize> = quota.iter().map(|q| q.floor() as usize).collect();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (quota[a] - take[a] as f64, quota[b] - take[b] as f64);
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let mut missing = n_test - take.iter().sum::<usize>();
    for &c in order.iter().cycle().take(k * 2) {
        if missing == 0 {
            break;
        }
        if take[c] < by_class[c].len() {
            take[c] += 1;
            missing -= 1;
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut test) = (Vec::with_capacity(n - n_test), Vec::with_capacity(n_test));
    for (c, mut idx) in by_class.into_iter().enumerate() {
        idx.shuffle(&mut rng);
        test.extend_from_slice(&idx[..take[c]]);
        train.extend_from_slice(&idx[take[c]..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}
