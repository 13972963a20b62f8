#!/usr/bin/env bash
# A real one-node SLURM cluster on localhost (munged + slurmctld + slurmd from Debian's
# slurm-wlm) runs a small `trainer sweep --slurm`: 2 models × 2 split seeds, 1 epoch, 4 bundled
# subjects (the 70/15/15 subject split needs 4). Checks: the --dry-run script passes
# `sbatch --test-only`; the array's 4 runs complete; `trainer report` writes the table and the
# plots of 4 runs; a second submission submits nothing. Stops the daemons on exit.
# Needs root (slurmd) and apt; usage: bash .ci/slurm/sweep-test.sh [TRAINER_BINARY]
set -euo pipefail
cd "$(dirname "$0")/../.."
here=.ci/slurm

if ! command -v slurmctld >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends slurm-wlm munge >/dev/null
fi
trainer="${1:-}"
if [ -z "$trainer" ]; then
  cargo build -q -p qssm-trainer --bin trainer
  trainer=$PWD/target/debug/trainer
fi

work="$(mktemp -d)"
bash "$here/stop_slurm.sh" >/dev/null 2>&1 || true
SLURM_CLEAN=1 bash "$here/start_slurm.sh"
trap 'bash "$here/stop_slurm.sh"; rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
sweep=(sweep --models 1b,2d --seeds 2024,2025 --set epochs=1 --set subjects=4
       --set "data=$PWD/data/eegmmidb" --set "cache-dir=$work/cache"
       --out "$work/sweep" --slurm --cpus-per-task 1 --time 00:20:00)

echo "-- dry run: the batch script passes sbatch --test-only"
"$trainer" "${sweep[@]}" --dry-run > "$work/dry.sbatch"
grep -q '^#SBATCH --array=0-3$' "$work/dry.sbatch" || fail "dry-run array line: $(grep array "$work/dry.sbatch")"
sbatch --test-only "$work/dry.sbatch" 2>&1 | tee "$work/test-only.txt"
grep -q "to start at" "$work/test-only.txt" || fail "sbatch --test-only did not accept the script"

echo "-- submit and wait for the array"
"$trainer" "${sweep[@]}" --wait
for d in "$work"/sweep/runs/*/; do
  [ -s "$d/results.json" ] || fail "no results.json in $d"
done
[ "$(ls -d "$work"/sweep/runs/*/ | wc -l)" = 4 ] || fail "expected 4 run folders"
[ "$(grep -c 'JobState=COMPLETED' /var/log/slurm/jobcomp.log)" = 4 ] || fail "jobcomp: $(cat /var/log/slurm/jobcomp.log)"

echo "-- report"
"$trainer" report "$work/sweep"
rep="$work/sweep/report"
grep -q '^| 1b | 80 | 2 |' "$rep/table.md" || fail "table.md lacks 1b with 2 runs: $(cat "$rep/table.md")"
grep -q '^| 2d | 80 | 2 |' "$rep/table.md" || fail "table.md lacks 2d with 2 runs"
[ "$(tail -n +2 "$rep/runs.csv" | wc -l)" = 4 ] || fail "runs.csv does not hold 4 runs"
for f in accuracy.png splits.png confusion/1b_80Hz.png confusion/2d_80Hz.png; do
  head -c 8 "$rep/$f" | od -An -c | grep -q 'P   N   G' || fail "$f is not a PNG"
done
[ "$(ls "$rep"/curves/*.png | wc -l)" = 4 ] || fail "expected 4 learning curves"

echo "-- a second submission runs nothing"
jobs_before=$(wc -l < /var/log/slurm/jobcomp.log)
"$trainer" "${sweep[@]}" 2>&1 | tee "$work/second.txt"
grep -q "nothing to run" "$work/second.txt" || fail "second submission did not skip"
sleep 1
[ "$(wc -l < /var/log/slurm/jobcomp.log)" = "$jobs_before" ] || fail "second submission ran jobs"
[ -z "$(squeue -h)" ] || fail "jobs queued after the second submission: $(squeue)"
echo "SLURM sweep test passed"
