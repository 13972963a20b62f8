//! MNIST in its original IDX files (LeCun, Cortes & Burges; `data/mnist/MANIFEST.md`): the
//! 10,000-image test set, gzipped. IDX: big-endian int32 magic (0x803 images, 0x801 labels),
//! the counts and dimensions, then unsigned bytes. Pixels are scaled by 1/255.
use super::image_set::{read_gz, DatasetError, ImageSet};
use std::path::Path;

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn format(path: &Path, reason: String) -> DatasetError {
    DatasetError::Format {
        path: path.to_path_buf(),
        reason,
    }
}

/// Reads an IDX image file (`*-images-idx3-ubyte.gz`) and its label file. Errors: unreadable
/// or not gzip ([`DatasetError::Io`]); a wrong magic number, a size that does not match the
/// header, different image and label counts, a label above 9 ([`DatasetError::Format`]).
pub fn read_mnist(images: &Path, labels: &Path) -> Result<ImageSet, DatasetError> {
    let img = read_gz(images)?;
    if img.len() < 16 || be32(&img, 0) != 0x0803 {
        return Err(format(
            images,
            "not an IDX image file (magic 0x00000803)".into(),
        ));
    }
    let (n, h, w) = (
        be32(&img, 4) as usize,
        be32(&img, 8) as usize,
        be32(&img, 12) as usize,
    );
    let want = n
        .checked_mul(h)
        .and_then(|v| v.checked_mul(w))
        .and_then(|v| v.checked_add(16));
    if want != Some(img.len()) {
        return Err(format(
            images,
            format!("{} bytes for a header of {n} images of {h}×{w}", img.len()),
        ));
    }
    let lab = read_gz(labels)?;
    if lab.len() < 8 || be32(&lab, 0) != 0x0801 {
        return Err(format(
            labels,
            "not an IDX label file (magic 0x00000801)".into(),
        ));
    }
    let m = be32(&lab, 4) as usize;
    if lab.len() != 8 + m {
        return Err(format(
            labels,
            format!("{} bytes for a header of {m} labels", lab.len()),
        ));
    }
    if m != n {
        return Err(format(labels, format!("{m} labels for {n} images")));
    }
    if let Some(i) = lab[8..].iter().position(|&y| y > 9) {
        return Err(format(
            labels,
            format!("label {} of image {i} is not a digit", lab[8 + i]),
        ));
    }
    Ok(ImageSet {
        x: img[16..].iter().map(|&p| f32::from(p) / 255.0).collect(),
        y: lab[8..].to_vec(),
        height: h,
        width: w,
        n_classes: 10,
    })
}
