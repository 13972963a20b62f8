//! The C ABI's byte-taking entry points: `qssm_model_load` (first byte even) and
//! `qssm_stream_restore` into a stream of a fixed model (first byte odd), with the lengths the
//! caller passes, then a classification or a push through the ABI.
#![no_main]
use libfuzzer_sys::fuzz_target;
use qssm::*;
use std::ptr::null_mut;
use std::sync::OnceLock;

static MODEL: OnceLock<Vec<u8>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // SAFETY (every call): valid pointers and lengths of live Rust buffers, handles freed once.
    unsafe {
        if mode % 2 == 0 {
            let mut m = null_mut();
            if qssm_model_load(rest.as_ptr(), rest.len(), &mut m) == QssmStatus::Ok {
                let (mut c, mut t, mut k) = (0usize, 0usize, 0usize);
                qssm_model_n_channels(m, &mut c);
                qssm_model_n_times(m, &mut t);
                qssm_model_n_classes(m, &mut k);
                if c.saturating_mul(t) <= 1 << 16 && k <= 1 << 12 {
                    let x = vec![0.1f32; c * t];
                    let (mut logits, mut probs) = (vec![0.0f32; k], vec![0.0f32; k]);
                    let mut class = 0usize;
                    qssm_model_classify_window(
                        m,
                        x.as_ptr(),
                        x.len(),
                        QSSM_UNIT_MILLIVOLT,
                        logits.as_mut_ptr(),
                        probs.as_mut_ptr(),
                        k,
                        &mut class,
                    );
                }
                qssm_model_free(&mut m);
            }
        } else {
            let bytes = MODEL.get_or_init(|| qssm_fuzz::model_bytes("3b").expect("3b"));
            let mut m = null_mut();
            assert_eq!(
                qssm_model_load(bytes.as_ptr(), bytes.len(), &mut m),
                QssmStatus::Ok
            );
            let mut s = null_mut();
            assert_eq!(qssm_stream_new(m, 1, &mut s), QssmStatus::Ok);
            // unaligned or odd lengths are the ABI's business to refuse
            if qssm_stream_restore(s, rest.as_ptr().cast(), rest.len()) == QssmStatus::Ok {
                let x = [0.1f32; qssm_fuzz::C];
                let mut n = 0usize;
                qssm_stream_push(
                    s,
                    x.as_ptr(),
                    x.len(),
                    qssm_fuzz::C,
                    QSSM_LAYOUT_SAMPLE_MAJOR,
                    QSSM_UNIT_MILLIVOLT,
                    &mut n,
                );
            }
            qssm_stream_free(&mut s);
            qssm_model_free(&mut m);
        }
    }
});
