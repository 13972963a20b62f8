#!/usr/bin/env bash
# Prepares the GPU check on a development machine (no GPU needed): builds the CUDA test
# binaries and the trainer with `--features cuda`, and copies them with a few EEG subjects
# into target/gpu-check/ (< 64 MiB with the source tree). Then run .ci/gpu/check.sh on the GPU
# machine from the repository root (carry target/gpu-check; leave data/ behind).
# Needs nvcc (NVCC, PATH or the pinned PyPI install) and libcuda to link: .ci/gpu/install.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CUDA_LIBRARY_PATH=${CUDA_LIBRARY_PATH:-$PWD/target/cuda-link}
P=target/gpu-check
rm -rf "$P"
mkdir -p "$P/bin" "$P/data/eegmmidb"

exe_of() { # the test executable cargo reports for `cargo test … --no-run`
  grep -o 'Executable [^ ]* (\([^)]*\))' | sed 's/.*(\(.*\))/\1/' | tail -1
}
cargo build --release -p qssm-trainer --features cuda
cp target/release/trainer "$P/bin/"
k=$(cargo test --release -p qssm-kernels --features cuda --test gpu_cuda --no-run 2>&1 | exe_of)
cp "$k" "$P/bin/gpu_cuda"
m=$(cargo test --release -p qssm-tests --features cuda --test gpu_models --no-run 2>&1 | exe_of)
cp "$m" "$P/bin/gpu_models"
strip "$P"/bin/*

# four subjects of the bundled EEG for the GPU fit (the CPU fit on the same machine is the
# comparison)
for s in S001 S002 S003 S004; do
  cp -r "data/eegmmidb/$s" "$P/data/eegmmidb/"
done
du -sh "$P"
