#!/usr/bin/env bash
# LSL round trip on loopback (issue 19): builds qssm with feature `lsl` (the `lsl` crate builds
# liblsl from source: cmake + g++), lints it, then runs trainer/tests/lsl_roundtrip.rs inside a
# private network namespace with only the loopback interface and the loopback-only LSL config
# (run-local.sh): nothing of LSL can leave the machine. Needs root for `unshare -n`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt-get)"
    sudo=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

cargo clippy -p qssm-trainer --features lsl --all-targets -- -D warnings
# build everything first: inside the namespace there is no network, cargo runs --offline
cargo test -p qssm-trainer --features lsl --test lsl_roundtrip --no-run
sh "$here/run-local.sh" \
  "cargo test --offline -p qssm-trainer --features lsl --test lsl_roundtrip -- --nocapture"
