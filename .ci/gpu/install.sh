#!/usr/bin/env bash
# Installs what `--features cuda` needs to build without a GPU (gpu/README.md §2–3 of the
# shared notes): nvcc from PyPI pinned to CUDA 13.0 (~/.cache/cuda-nvcc-13.0.88), and Debian's
# libcuda1 unpacked into /opt/cuda-link for linking `cust`.
set -euo pipefail
NV=$HOME/.cache/cuda-nvcc-13.0.88
if [ ! -x "$NV/nvidia/cu13/bin/nvcc" ]; then
  python3 -m pip install -q --target "$NV" \
    nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-runtime==13.0.96
fi
if [ ! -e /opt/cuda-link/lib64/libcuda.so ]; then
  SRC=/etc/apt/sources.list.d/debian.sources
  if [ -f $SRC ] && ! grep -q non-free $SRC; then
    sed -i 's/^Components: main$/Components: main contrib non-free non-free-firmware/' $SRC
  fi
  apt-get update -q >/dev/null
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download libcuda1 >/dev/null && dpkg -x libcuda1_*.deb root)
  mkdir -p /opt/cuda-link/lib64
  cp -a "$tmp"/root/usr/lib/x86_64-linux-gnu/nvidia/current/libcuda.so* /opt/cuda-link/lib64/
  ln -sf libcuda.so.1 /opt/cuda-link/lib64/libcuda.so
  rm -rf "$tmp"
fi
echo "nvcc: $NV/nvidia/cu13/bin/nvcc; link: CUDA_LIBRARY_PATH=/opt/cuda-link"
