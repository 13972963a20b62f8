//! `Stream::restore` on arbitrary floats (a corrupt or foreign snapshot), then a push.
#![no_main]
use libfuzzer_sys::fuzz_target;
use qssm_engine::{Model, Stream, StreamOptions};
use std::sync::OnceLock;

static MODEL: OnceLock<Model> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let m = MODEL.get_or_init(qssm_fuzz::stream_model);
    let mut s = Stream::new(m, StreamOptions::default()).expect("3b streams");
    if s.restore(&qssm_fuzz::floats(data)).is_ok() {
        let _ = s.push(&[0.1f32; qssm_fuzz::C]);
    }
});
