//! The engine's model loader on arbitrary bytes; a model that loads classifies a window and,
//! if it can stream, takes a sample.
#![no_main]
use libfuzzer_sys::fuzz_target;
use qssm_engine::{Model, Stream, StreamOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Model::from_bytes(data) else {
        return;
    };
    let n = m.n_channels().saturating_mul(m.n_times());
    if n <= 1 << 16 {
        let _ = m.classify_window(&vec![0.1f32; n]);
    }
    if m.can_stream() {
        if let Ok(mut s) = Stream::new(&m, StreamOptions::default()) {
            let _ = s.push(&vec![0.1f32; m.n_channels()]);
        }
    }
});
