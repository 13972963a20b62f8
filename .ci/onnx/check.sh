#!/usr/bin/env bash
# ONNX export check (issue 16): installs onnxruntime and onnx from PyPI if missing, writes the
# cases (every model's window graph, f32 and f16, with the engine's logits on the reference
# fixtures' inputs and on bundled EEG windows; tests/examples/onnx_cases.rs), then runs
# check.py: onnx.checker full_check and onnxruntime vs the engine (1e-4 f32, same class f16).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
if ! python3 -c "import onnxruntime, onnx, numpy" 2>/dev/null; then
    python3 -m pip install -q "onnxruntime>=1.31" "onnx>=1.16" numpy
fi
python3 -c "import onnxruntime, onnx; print('onnxruntime', onnxruntime.__version__, 'onnx', onnx.__version__)"
out="${CARGO_TARGET_DIR:-$root/target}/onnx-cases"
rm -rf "$out"
cargo run --release -p qssm-tests --example onnx_cases -- "$out"
python3 "$here/check.py" "$out"
