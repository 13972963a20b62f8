//! scikit-learn's digits (UCI Optical Recognition of Handwritten Digits, test set;
//! `data/digits/MANIFEST.md`): `digits.csv.gz`, 1,797 rows of 64 pixel counts 0..16 (8×8,
//! row-major) and the label. Pixels are scaled by 1/16, as the sdigits protocol reads them.
use super::image_set::{read_gz, DatasetError, ImageSet};
use std::path::Path;

/// Reads `digits.csv.gz`. Errors: unreadable or not gzip ([`DatasetError::Io`]); a row
/// without 65 integer fields, a pixel outside 0..=16, a label outside 0..=9, no rows
/// ([`DatasetError::Format`], naming the line).
pub fn read_digits(path: &Path) -> Result<ImageSet, DatasetError> {
    let bytes = read_gz(path)?;
    let bad = |reason: String| DatasetError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| bad("not ASCII text".into()))?;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.trim().split(',').collect();
        if fields.len() != 65 {
            return Err(bad(format!(
                "line {}: {} fields, expected 65",
                i + 1,
                fields.len()
            )));
        }
        for (j, f) in fields.iter().enumerate() {
            let v: u8 = f.trim().parse().map_err(|_| {
                bad(format!(
                    "line {}, field {}: '{f}' is not an integer",
                    i + 1,
                    j + 1
                ))
            })?;
            match j {
                64 if v > 9 => {
                    return Err(bad(format!("line {}: label {v} is not a digit", i + 1)))
                }
                64 => y.push(v),
                _ if v > 16 => {
                    return Err(bad(format!(
                        "line {}, field {}: pixel {v} > 16",
                        i + 1,
                        j + 1
                    )))
                }
                _ => x.push(f32::from(v) / 16.0),
            }
        }
    }
    if y.is_empty() {
        return Err(bad("no rows".into()));
    }
    Ok(ImageSet {
        x,
        y,
        height: 8,
        width: 8,
        n_classes: 10,
    })
}
