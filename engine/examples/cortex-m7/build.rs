//! Puts memory.x on the linker's path and rebuilds when the embedded inputs change.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    fs::copy("memory.x", out.join("memory.x")).expect("memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    for var in ["QSSM_MODEL", "QSSM_INPUTS"] {
        println!("cargo:rerun-if-env-changed={var}");
        if let Some(p) = env::var_os(var) {
            println!("cargo:rerun-if-changed={}", PathBuf::from(p).display());
        }
    }
}
