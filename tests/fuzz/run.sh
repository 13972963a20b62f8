#!/usr/bin/env bash
# Fuzzes every target of tests/fuzz with libFuzzer (cargo fuzz, nightly): seeds the corpora
# (tests/fuzz/src/seeds.rs), then runs each target for SECONDS seconds (default 30) or, with
# RUNS set, for RUNS executions, with a 2 GiB memory limit and a 10 s per-input timeout. Any
# crash, timeout or out-of-memory fails the script; the input lands in tests/fuzz/artifacts/.
#
# usage: bash tests/fuzz/run.sh [SECONDS]       e.g. RUNS=1000000 bash tests/fuzz/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-30}
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
(cd tests/fuzz && cargo run --release --quiet --bin seeds)
cargo +nightly fuzz build --fuzz-dir tests/fuzz -O
limit=(-rss_limit_mb=2048 -timeout=10 -print_final_stats=1)
if [[ -n "${RUNS:-}" ]]; then limit+=("-runs=$RUNS"); else limit+=("-max_total_time=$secs"); fi
for t in edf model_file snapshot c_abi; do
  echo "== fuzz $t"
  cargo +nightly fuzz run --fuzz-dir tests/fuzz -O "$t" "tests/fuzz/corpus/$t" -- "${limit[@]}" 2>&1 |
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY|panicked'
done
