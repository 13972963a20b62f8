//! The EDF/EDF+ reader on arbitrary bytes: parse, then everything a consumer reads of a file
//! that parsed (warnings, annotations, every data signal in volts).
#![no_main]
use libfuzzer_sys::fuzz_target;
use qssm_formats::edf::Edf;

fuzz_target!(|data: &[u8]| {
    let Ok(edf) = Edf::from_bytes(data) else {
        return;
    };
    let _ = edf.warnings();
    let _ = edf.annotations().len();
    let _ = edf.record_starts_s().len();
    let picks = edf.ordinary_signals();
    for &i in &picks {
        let _ = edf.volts(i);
    }
    let _ = edf.data_volts(&picks);
});
