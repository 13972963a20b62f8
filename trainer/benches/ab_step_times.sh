#!/usr/bin/env bash
# Paired training-step times of two `trainer` binaries (e.g. the commit before a change and
# after it) on the same machine in one run: for every model, the binaries alternate
# A B A B … (`trainer bench`, B = 32, T = 249, C = 64 by default; each run times 8 steps after
# a warm-up and reports its fastest, the least noisy figure on a shared machine), and the table
# gives each binary's median over the rounds and the ratio A/B of the medians.
#
# usage: trainer/benches/ab_step_times.sh BASELINE_BIN NEW_BIN [ROUNDS] [MODELS] [EXTRA BENCH ARGS…]
#   e.g. trainer/benches/ab_step_times.sh /tmp/trainer-before target/release/trainer 3
set -euo pipefail
a=${1:?baseline trainer binary}
b=${2:?new trainer binary}
rounds=${3:-3}
models=${4:-1a,3a,1b,3b,1c,3c,2a,2b,2c,2d,2e,4a,4b,4c,4d,4e,mg,hg}
shift $(( $# < 4 ? $# : 4 ))
step_ms() { "$1" bench --model "$2" --steps 8 "${@:3}" | awk 'NR == 2 { print $NF }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '| id | before (ms) | after (ms) | before / after |\n|---|---:|---:|---:|\n'
for m in ${models//,/ }; do
  ta=(); tb=()
  for _ in $(seq "$rounds"); do
    ta+=("$(step_ms "$a" "$m" "$@")")
    tb+=("$(step_ms "$b" "$m" "$@")")
  done
  ma=$(printf '%s\n' "${ta[@]}" | median)
  mb=$(printf '%s\n' "${tb[@]}" | median)
  printf '| %s | %.1f | %.1f | %.2f× |\n' "$m" "$ma" "$mb" "$(awk -v a="$ma" -v b="$mb" 'BEGIN { print a / b }')"
done
