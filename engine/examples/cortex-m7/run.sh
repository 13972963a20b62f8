#!/usr/bin/env bash
# Trains a real 3b on the bundled EEG (1 epoch, 4 subjects), exports it with f16 weights,
# writes one real EEG window and the host engine's streamed predictions, builds the firmware
# with both in flash, runs it on QEMU's Cortex-M7 (mps2-an500, -icount shift=10) and checks
# its predictions against the host's. Prints flash/RAM use and instructions per sample.
# Installs qemu-system-arm and ARM binutils (apt) and the Rust target if missing.
# Usage: bash engine/examples/cortex-m7/run.sh   (from anywhere; log in target/firmware-m7/)
set -euo pipefail
fw="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$fw/../../.." && pwd)"
cd "$root"
if ! command -v qemu-system-arm >/dev/null || ! command -v arm-none-eabi-size >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 qemu-system-arm binutils-arm-none-eabi >/dev/null
fi
rustup target add thumbv7em-none-eabihf >/dev/null 2>&1 || true
work="$root/target/firmware-m7"
rm -rf "$work" && mkdir -p "$work"

echo "-- host: a real 3b (1 epoch on 4 bundled subjects), its f16 export, one EEG window"
cargo build -q -p qssm-trainer --bin trainer --example firmware_inputs
./target/debug/trainer fit --model 3b --epochs 1 --subjects 4 --data data/eegmmidb \
  --cache-dir "$work/cache" --out "$work/run3b" --no-progress 2>&1 | grep -E '^test'
./target/debug/trainer export --model-file "$work/run3b/model.safetensors" --dtype f16 \
  --out "$work/run3b/model.f16.safetensors" | tail -1
./target/debug/examples/firmware_inputs "$work/run3b/model.f16.safetensors" \
  "$work/run3b/model.safetensors" data/eegmmidb "$work/inputs"

echo "-- firmware: build (thumbv7em-none-eabihf, LTO) and run on QEMU mps2-an500"
( cd "$fw" && QSSM_MODEL="$work/run3b/model.f16.safetensors" QSSM_INPUTS="$work/inputs" \
    cargo build --release -q )
elf="$fw/target/thumbv7em-none-eabihf/release/qssm-firmware-m7"
arm-none-eabi-size -A "$elf" | grep -E '^\.(vector_table|text|rodata|data|bss) ' | tee "$work/sizes.txt"
awk '/^\.(vector_table|text|rodata|data) /{f+=$2} END{printf "flash (vector table + text + rodata + data): %d B = %.1f KiB (budget 1 MiB, enforced by memory.x)\n", f, f/1024}' "$work/sizes.txt"
timeout 600 qemu-system-arm -machine mps2-an500 -cpu cortex-m7 -nographic \
  -semihosting-config enable=on,target=native -icount shift=10 -kernel "$elf" | tee "$work/qemu.log"
grep -q '^PASS' "$work/qemu.log"
