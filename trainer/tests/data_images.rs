//! The image datasets of the paper models, read from the bundled files (`data/mnist`,
//! `data/digits`, whose manifests give the numbers checked here), their stratified splits
//! (smnist-10k 8,000 / 2,000, sdigits 1,437 / 360), and damaged files refused with one line.
use qssm_trainer::data::digits::read_digits;
use qssm_trainer::data::image_set::{stratified_split, DatasetError};
use qssm_trainer::data::mnist::read_mnist;
use std::io::Write;
use std::path::PathBuf;

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data")
}

fn mnist() -> qssm_trainer::data::image_set::ImageSet {
    let d = data().join("mnist");
    read_mnist(
        &d.join("t10k-images-idx3-ubyte.gz"),
        &d.join("t10k-labels-idx1-ubyte.gz"),
    )
    .unwrap()
}

#[test]
fn mnist_test_set_as_its_manifest_describes() {
    let m = mnist();
    assert_eq!(
        (m.len(), m.height, m.width, m.pixels()),
        (10_000, 28, 28, 784)
    );
    assert_eq!(
        m.class_counts(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert_eq!(
        m.y[..20],
        [7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6, 9, 0, 1, 5, 9, 7, 3, 4]
    );
    assert!(m.x.iter().all(|v| (0.0..=1.0).contains(v)));
    assert_eq!(m.x.iter().cloned().fold(0.0f32, f32::max), 1.0);
}

#[test]
fn digits_as_its_manifest_describes() {
    let d = read_digits(&data().join("digits/digits.csv.gz")).unwrap();
    assert_eq!((d.len(), d.height, d.width), (1797, 8, 8));
    assert_eq!(
        d.class_counts(),
        [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    let first: Vec<u8> = (0..20).map(|i| (i % 10) as u8).collect();
    assert_eq!(d.y[..20], first[..]);
    // pixel counts 0..16 scaled by 1/16: mean 4.884 / 16
    let mean = d.x.iter().map(|&v| v as f64).sum::<f64>() / d.x.len() as f64;
    assert!((mean * 16.0 - 4.884).abs() < 5e-4, "mean {}", mean * 16.0);
}

#[test]
fn stratified_splits_of_the_protocols() {
    let d = read_digits(&data().join("digits/digits.csv.gz")).unwrap();
    let m = mnist();
    for (set, n_test) in [(&d, 360usize), (&m, 2000)] {
        let (train, test) = stratified_split(&set.y, n_test, 2024);
        assert_eq!((train.len(), test.len()), (set.len() - n_test, n_test));
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..set.len()).collect::<Vec<_>>(), "a partition");
        // every class in proportion, within one item
        let counts = set.class_counts();
        let test_counts = set.subset(&test).class_counts();
        for (c, (&tc, &n)) in test_counts.iter().zip(&counts).enumerate() {
            let want = n as f64 * n_test as f64 / set.len() as f64;
            assert!((tc as f64 - want).abs() < 1.0, "class {c}: {tc} vs {want}");
        }
        assert_eq!(
            stratified_split(&set.y, n_test, 2024),
            (train.clone(), test.clone())
        );
        assert_ne!(stratified_split(&set.y, n_test, 2025).1, test);
    }
}

#[test]
fn damaged_files_are_refused_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let gz = |name: &str, bytes: &[u8]| {
        let p = tmp.path().join(name);
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        std::fs::write(&p, e.finish().unwrap()).unwrap();
        p
    };
    let labels = data().join("mnist/t10k-labels-idx1-ubyte.gz");
    let plain = tmp.path().join("plain.gz");
    std::fs::write(&plain, b"not gzip").unwrap();
    let mut short = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
    short.extend(vec![0u8; 100]);
    let cases: Vec<(DatasetError, &str)> = vec![
        (read_mnist(&plain, &labels).unwrap_err(), "plain.gz"),
        (
            read_mnist(&labels, &labels).unwrap_err(),
            "magic 0x00000803",
        ),
        (
            read_mnist(&gz("short.gz", &short), &labels).unwrap_err(),
            "116 bytes for a header of 2 images",
        ),
        (
            read_digits(&gz("cols.csv.gz", b"1,2,3\n")).unwrap_err(),
            "line 1: 3 fields, expected 65",
        ),
        (
            read_digits(&gz("empty.csv.gz", b"\n")).unwrap_err(),
            "no rows",
        ),
        (
            read_digits(&gz(
                "label.csv.gz",
                format!("{}12\n", "0,".repeat(64)).as_bytes(),
            ))
            .unwrap_err(),
            "label 12 is not a digit",
        ),
        (
            read_digits(&gz(
                "pix.csv.gz",
                format!("17,{}3\n", "0,".repeat(63)).as_bytes(),
            ))
            .unwrap_err(),
            "pixel 17 > 16",
        ),
    ];
    for (e, needle) in cases {
        let msg = e.to_string();
        assert!(
            msg.contains(needle) && !msg.contains('\n'),
            "{msg:?} lacks {needle:?}"
        );
    }
}
