//! Writes the seed corpora of the fuzz targets into `corpus/<target>/`: a short EDF+ cut from
//! the bundled recording (`data/eegmmidb/S001/S001R04.edf`, its first two data records), a
//! small model file of every registry model, a valid stream snapshot, and the same inputs
//! framed for the C ABI target. Run from `tests/fuzz`.
use qssm_engine::{Stream, StreamOptions};
use std::path::Path;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("corpus dir");
    std::fs::write(dir.join(name), bytes).expect("seed written");
}

fn main() {
    let corpus = Path::new("corpus");
    // EDF+: header + 2 records, the record count rewritten
    let edf = std::fs::read("../../data/eegmmidb/S001/S001R04.edf").expect("bundled EDF");
    let header_bytes: usize = String::from_utf8_lossy(&edf[184..192])
        .trim()
        .parse()
        .expect("header size");
    let n_records: usize = String::from_utf8_lossy(&edf[236..244])
        .trim()
        .parse()
        .expect("record count");
    let record = (edf.len() - header_bytes) / n_records;
    let mut short = edf[..header_bytes + 2 * record].to_vec();
    short[236..244].copy_from_slice(b"2       ");
    write(&corpus.join("edf"), "s001r04_2records.edf", &short);
    // model files, and the same framed for the C ABI (first byte even: load)
    for e in qssm_trainer::models::registry::zoo() {
        if let Some(b) = qssm_fuzz::model_bytes(e.id) {
            write(
                &corpus.join("model_file"),
                &format!("{}.safetensors", e.id),
                &b,
            );
            let mut framed = vec![0u8];
            framed.extend(&b);
            write(&corpus.join("c_abi"), &format!("load_{}", e.id), &framed);
        }
    }
    // a snapshot after a few samples (first byte odd for the C ABI: restore)
    let m = qssm_fuzz::stream_model();
    let mut s = Stream::new(&m, StreamOptions::default()).expect("3b streams");
    for t in 0..5 {
        s.push(&[0.01 * t as f32; qssm_fuzz::C]).expect("push");
    }
    let snap: Vec<u8> = s.state().iter().flat_map(|v| v.to_le_bytes()).collect();
    write(&corpus.join("snapshot"), "after_5_samples", &snap);
    let mut framed = vec![1u8];
    framed.extend(&snap);
    write(&corpus.join("c_abi"), "restore_after_5_samples", &framed);
    println!("seeds written under {}", corpus.display());
}
