#!/usr/bin/env bash
# The GPU check (run on the GPU machine from the repository root, after prepare.sh on a
# development machine): every GPU test and benchmark, in a few minutes, log in
# $OUT/gpu-check.log (or target/gpu-check/gpu-check.log).
set -uo pipefail
cd "$(dirname "$0")/../.."
P=target/gpu-check
OUTDIR=${OUT:-$P}
mkdir -p "$OUTDIR"
LOG=$OUTDIR/gpu-check.log
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export PATH=/usr/local/cuda/bin:$PATH
FAILED=0
run() {
  echo "== $*"
  local t0=$SECONDS
  "$@"
  local rc=$?
  [ $rc -ne 0 ] && FAILED=$((FAILED + 1))
  echo "-- rc=$rc ($((SECONDS - t0)) s)"
}
FIT="--model 3b --data $P/data/eegmmidb --subjects 1-4 --sfreq 80 --epochs 10 --no-progress --cache-dir $P/cache"
{
  date -u
  run nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  run "$P/bin/gpu_cuda" --nocapture --test-threads=1
  run "$P/bin/gpu_models" --nocapture --test-threads=1 cuda_models
  run compute-sanitizer --tool memcheck --error-exitcode 1 "$P/bin/gpu_cuda" --test-threads=1 ops_small
  run compute-sanitizer --tool racecheck --error-exitcode 1 "$P/bin/gpu_cuda" --test-threads=1 ops_small
  run compute-sanitizer --tool synccheck --error-exitcode 1 "$P/bin/gpu_cuda" --test-threads=1 ops_small
  run "$P/bin/trainer" bench --device cuda --model 3a,3b,3c,1a,1b,1c --steps 20
  run "$P/bin/trainer" bench --device cuda --model 2a,2b,2c,2d,2e,4a,4b,4c,4d,4e,mg,hg --steps 10
  run "$P/bin/trainer" bench --device cuda --model 3b,3c --n-times 497 --steps 10
  run "$P/bin/trainer" bench --device cuda --model 3b --steps 10 --concurrent 8
  QSSM_CUDA_PROFILE=1 run "$P/bin/trainer" bench --device cuda --model 3a,3b,3c,1b --steps 5
  run "$P/bin/trainer" bench --device cpu --model 3a,3b,3c,1a,1b,1c,2a,2b,2c,2d,2e,4a,4b,4c,4d,4e,mg,hg --steps 3
  run "$P/bin/trainer" fit --device cuda $FIT --out "$OUTDIR/fit-cuda"
  run "$P/bin/trainer" fit --device cpu $FIT --out "$OUTDIR/fit-cpu"
  run "$P/bin/trainer" fit --device cuda ${FIT/3b/1b} --out "$OUTDIR/fit-cuda-1b"
  echo "== failed commands: $FAILED"
} 2>&1 | tee "$LOG"
