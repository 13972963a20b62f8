#!/usr/bin/env bash
# Installs what `--features cuda` needs to build without a GPU (../shared/gpu/README.md §2–3):
# nvcc from PyPI pinned to CUDA 13.0 (~/.cache/cuda-nvcc-13.0.88), and Debian's libcuda1
# unpacked into target/cuda-link/ of this checkout for linking `cust`
# (`CUDA_LIBRARY_PATH=$PWD/target/cuda-link`).
set -euo pipefail
cd "$(dirname "$0")/../.."
NV=$HOME/.cache/cuda-nvcc-13.0.88
LINK=$PWD/target/cuda-link
if [ ! -x "$NV/nvidia/cu13/bin/nvcc" ]; then
  python3 -m pip install -q --target "$NV" \
    nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-runtime==13.0.96
fi
if [ ! -e "$LINK/lib64/libcuda.so" ]; then
  SRC=/etc/apt/sources.list.d/debian.sources
  if [ -f $SRC ] && ! grep -q non-free $SRC; then
    sed -i 's/^Components: main$/Components: main contrib non-free non-free-firmware/' $SRC
  fi
  apt-get update -q >/dev/null
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download libcuda1 >/dev/null && dpkg -x libcuda1_*.deb root)
  mkdir -p "$LINK/lib64"
  # wherever the package puts it (its multiarch directory)
  find "$tmp/root" -name 'libcuda.so*' -exec cp -a {} "$LINK/lib64/" \;
  ln -sf libcuda.so.1 "$LINK/lib64/libcuda.so"
  rm -rf "$tmp"
fi
echo "nvcc: $NV/nvidia/cu13/bin/nvcc; link: CUDA_LIBRARY_PATH=$LINK"
