#!/usr/bin/env bash
# C/C++ acceptance tests of the qssm C ABI (CI calls this; see bindings-c/README.md).
#
#  1. builds libqssm (static + shared, release) with cargo;
#  2. trains the example model (trainer fit: 3b, subjects 1-4, 1 epoch, 40 Hz) unless
#     QSSM_C_MODEL names a model file, or a previous run's model is still there;
#  3. exports the S001R04 windows (µV) and the Rust engine's expected predictions
#     (examples/c_inputs.rs);
#  4. compiles examples/stream_edf.c, examples/classify_edf.cpp and tests/misuse.c with
#     gcc/g++ -Wall -Wextra -Werror against libqssm.a;
#  5. runs them and checks the printed predictions equal the Rust engine's (class, logits and
#     probabilities, nine significant digits = bit-exact f32);
#  6. runs stream_edf and misuse under valgrind --leak-check=full --error-exitcode=1 (no
#     errors, no definite/indirect/possible leaks);
#  7. builds the examples with CMakeLists.txt against the static and the shared library and
#     runs the shared-library build.
#
# Environment: CARGO_TARGET_DIR (default: the workspace's target/), QSSM_C_WORK (scratch
# directory, default $CARGO_TARGET_DIR/qssm-c-tests), QSSM_C_MODEL (use this model file instead
# of training one). Missing tools (gcc, g++, valgrind, cmake) are installed with apt-get.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_TARGET_DIR="$target"
work="${QSSM_C_WORK:-$target/qssm-c-tests}"
lib="$target/release"
mkdir -p "$work"

step() { printf '\n== %s\n' "$*"; }

# --- tools ---------------------------------------------------------------------------------
missing=()
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v make >/dev/null 2>&1 || missing+=(make)
if [ ${#missing[@]} -gt 0 ]; then
    step "installing ${missing[*]} (apt-get)"
    sudo=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# --- 1. the library ------------------------------------------------------------------------
step "cargo build --release -p qssm-c"
(cd "$root" && cargo build --release -p qssm-c)
for f in libqssm.a libqssm.so; do
    [ -f "$lib/$f" ] || { echo "missing $lib/$f" >&2; exit 1; }
done
# what rustc says a static Rust library needs from the system (Linux)
native_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl"

# --- 2. the model --------------------------------------------------------------------------
model="${QSSM_C_MODEL:-$work/fit/model.safetensors}"
if [ ! -f "$model" ]; then
    step "training the example model (trainer fit --model 3b --subjects 1-4 --epochs 1 --sfreq 40)"
    (cd "$root" && cargo run --release -p qssm-trainer --bin trainer -- fit --model 3b \
        --data data/eegmmidb --subjects 1-4 --epochs 1 --sfreq 40 --no-progress \
        --cache-dir "$work/epoch-cache" --out "$work/fit")
fi

# --- 3. inputs and expected predictions ----------------------------------------------------
step "exporting S001R04 windows and the Rust engine's predictions"
(cd "$root" && cargo run --release -p qssm-c --example c_inputs -- --model "$model" \
    --data "$root/data/eegmmidb" --subject 1 --run 4 --out "$work")

# --- 4. compile ----------------------------------------------------------------------------
step "compiling the C and C++ programs against libqssm.a"
cflags=(-O2 -g -Wall -Wextra -Werror -I"$here/include")
gcc -std=c11 "${cflags[@]}" "$here/examples/stream_edf.c" "$lib/libqssm.a" $native_libs \
    -o "$work/stream_edf"
g++ -std=c++17 "${cflags[@]}" "$here/examples/classify_edf.cpp" "$lib/libqssm.a" $native_libs \
    -o "$work/classify_edf"
gcc -std=c11 "${cflags[@]}" "$here/tests/misuse.c" "$lib/libqssm.a" $native_libs \
    -o "$work/misuse"
# the header on its own: strict C99 and C++11
echo '#include "qssm.h"' | gcc -std=c99 -pedantic -Wall -Wextra -Werror -I"$here/include" -x c -fsyntax-only -
echo '#include "qssm.h"' | g++ -std=c++11 -pedantic -Wall -Wextra -Werror -I"$here/include" -x c++ -fsyntax-only -

# --- 5. run and compare --------------------------------------------------------------------
# Compares two prediction files (comments skipped): same lines, same class, every number equal.
compare() {
    awk -v what="$3" '
        BEGIN { n1 = 0; n2 = 0; bad = 0 }
        FNR == 1 { file++ }
        /^#/ || NF == 0 { next }
        file == 1 { want[n1++] = $0; next }
        {
            if (n2 >= n1) { printf "%s: extra line %s\n", what, $0; bad = 1; exit 1 }
            nw = split(want[n2], w, " "); m = split($0, g, " ")
            if (m != nw) { printf "%s line %d: %d fields, expected %d\n", what, n2, m, nw; bad = 1 }
            for (i = 1; i <= m; i++) if (g[i] + 0 != w[i] + 0) {
                printf "%s line %d field %d: got %s, expected %s\n", what, n2, i, g[i], w[i]; bad = 1
            }
            n2++
        }
        END {
            if (!bad && n2 != n1) { printf "%s: %d lines, expected %d\n", what, n2, n1; bad = 1 }
            if (bad) exit 1
            printf "%s: %d predictions identical to the Rust engine\n", what, n1
        }' "$1" "$2"
}

step "stream_edf (C, sample-major chunks, caller-provided stream memory)"
"$work/stream_edf" "$model" "$work/windows.f32" 16 | tee "$work/stream_edf.out"
compare "$work/expected_stream.txt" "$work/stream_edf.out" "stream_edf"

step "classify_edf (C++, whole windows)"
"$work/classify_edf" "$model" "$work/windows.f32" | tee "$work/classify_edf.out"
compare "$work/expected_classify.txt" "$work/classify_edf.out" "classify_edf"

step "classify_edf --stream (C++, channel-major chunks)"
"$work/classify_edf" "$model" "$work/windows.f32" --stream | tee "$work/classify_edf_stream.out"
compare "$work/expected_stream.txt" "$work/classify_edf_stream.out" "classify_edf --stream"

step "misuse (C)"
"$work/misuse" "$model" "$work/noncausal_1b.safetensors"

# --- 6. valgrind ---------------------------------------------------------------------------
vg=(valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1
    --suppressions="$here/valgrind.supp")
step "valgrind stream_edf"
"${vg[@]}" --log-file="$work/valgrind-stream_edf.log" \
    "$work/stream_edf" "$model" "$work/windows.f32" 16 >"$work/stream_edf.vg.out"
compare "$work/expected_stream.txt" "$work/stream_edf.vg.out" "stream_edf under valgrind"
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|All heap blocks" \
    "$work/valgrind-stream_edf.log" || true
step "valgrind misuse"
"${vg[@]}" --log-file="$work/valgrind-misuse.log" \
    "$work/misuse" "$model" "$work/noncausal_1b.safetensors" >"$work/misuse.vg.out"
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|All heap blocks" \
    "$work/valgrind-misuse.log" || true

# --- 7. CMake ------------------------------------------------------------------------------
step "CMake build (static and shared library)"
cmake -S "$here" -B "$work/cmake" -DCMAKE_BUILD_TYPE=Release -DQSSM_BUILD_WITH_CARGO=OFF \
    -DQSSM_CARGO_TARGET_DIR="$target" >"$work/cmake-configure.log"
cmake --build "$work/cmake" -j 2 >"$work/cmake-build.log"
"$work/cmake/stream_edf_shared" "$model" "$work/windows.f32" 25 >"$work/stream_edf_shared.out"
compare "$work/expected_stream.txt" "$work/stream_edf_shared.out" "stream_edf (libqssm.so, CMake)"
"$work/cmake/misuse" "$model" >/dev/null

step "all C ABI tests passed"
