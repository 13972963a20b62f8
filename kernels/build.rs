//! Builds the CUDA kernels of `cuda/` when a feature asks for them:
//! * `cuda`: nvcc compiles `cuda/qssm.cu` to a fatbin (sm_90 SASS + compute_90 PTX) that the
//!   crate embeds; nvcc comes from `$NVCC`, `PATH`, or the pinned PyPI install
//!   (`~/.cache/cuda-nvcc-13.0.88`, see `gpu/README.md`). No nvcc → a build error that says so.
//! * `cuda-emu`: the host C++ compiler builds the same sources through `cuda/emu/cuda_emu.h`
//!   into a static library (the kernels run on the CPU, for tests); `QSSM_EMU_TSAN=1` builds
//!   it with ThreadSanitizer.
//!
//! Without either feature nothing is built and nothing CUDA is needed.
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=cuda");
    println!("cargo:rerun-if-env-changed=NVCC");
    println!("cargo:rerun-if-env-changed=QSSM_EMU_TSAN");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_some() {
        build_fatbin();
    }
    #[cfg(feature = "cuda-emu")]
    build_emu();
}

fn find_nvcc() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NVCC") {
        return Some(PathBuf::from(p));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let c = dir.join("nvcc");
            if c.is_file() {
                return Some(c);
            }
        }
    }
    let mut cands = vec![PathBuf::from("/usr/local/cuda/bin/nvcc")];
    if let Some(home) = std::env::var_os("HOME") {
        cands.push(Path::new(&home).join(".cache/cuda-nvcc-13.0.88/nvidia/cu13/bin/nvcc"));
    }
    cands.into_iter().find(|c| c.is_file())
}

fn build_fatbin() {
    let Some(nvcc) = find_nvcc() else {
        panic!(
            "feature `cuda`: nvcc not found (set NVCC, put nvcc on PATH, or install the pinned \
             PyPI nvcc as .ci/gpu/install.sh does)"
        );
    };
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("qssm.fatbin");
    let status = Command::new(&nvcc)
        .args([
            "-fatbin",
            "-O3",
            "-lineinfo",
            "-Werror",
            "all-warnings",
            "-gencode",
            "arch=compute_90,code=[sm_90,compute_90]",
            "cuda/qssm.cu",
            "-o",
        ])
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("feature `cuda`: cannot run {}: {e}", nvcc.display()));
    assert!(
        status.success(),
        "feature `cuda`: nvcc failed on cuda/qssm.cu"
    );
}

#[cfg(feature = "cuda-emu")]
fn build_emu() {
    let mut b = cc::Build::new();
    b.cpp(true)
        .std("c++20")
        .file("cuda/emu/launch.cpp")
        .flag("-pthread")
        .flag_if_supported("-Wno-unknown-pragmas")
        .warnings_into_errors(true)
        .opt_level(2);
    if std::env::var("QSSM_EMU_TSAN").as_deref() == Ok("1") {
        b.flag("-fsanitize=thread").flag("-g");
        println!("cargo:rustc-link-lib=tsan");
    }
    b.compile("qssm_cuda_emu");
    println!("cargo:rustc-link-lib=pthread");
}
