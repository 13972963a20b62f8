#!/usr/bin/env bash
# Checks that the committed include/qssm.h is exactly what cbindgen generates from the crate
# (CI calls this). Regenerates the header into a temporary file with the pinned cbindgen and
# fails (exit 1, with a diff) on any difference.
#
#   bindings-c/check-header.sh           # check
#   bindings-c/check-header.sh --write   # regenerate include/qssm.h after changing the ABI
#
# The generator is pinned (its output format changes between releases): if `cbindgen` on PATH
# (or $CBINDGEN) is not that version, the pinned one is installed with `cargo install --locked`
# into $CARGO_TARGET_DIR/tools (default: the workspace's target/tools) and used from there.
set -euo pipefail

CBINDGEN_VERSION="0.29.4"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
header="$here/include/qssm.h"

cbindgen="${CBINDGEN:-cbindgen}"
if ! "$cbindgen" --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION"; then
    tools="${CARGO_TARGET_DIR:-$root/target}/tools/cbindgen-$CBINDGEN_VERSION"
    cbindgen="$tools/bin/cbindgen"
    if ! "$cbindgen" --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION"; then
        echo "installing cbindgen $CBINDGEN_VERSION into $tools" >&2
        cargo install --locked --quiet cbindgen --version "=$CBINDGEN_VERSION" --root "$tools"
    fi
fi

tmp="$(mktemp "${TMPDIR:-/tmp}/qssm.h.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
(cd "$here" && "$cbindgen" --quiet --config cbindgen.toml --crate qssm-c --output "$tmp" .)

if [ "${1:-}" = "--write" ]; then
    cp "$tmp" "$header"
    echo "wrote $header"
    exit 0
fi
if ! diff -u "$header" "$tmp"; then
    echo "include/qssm.h is out of date with the Rust sources: run bindings-c/check-header.sh --write" >&2
    exit 1
fi
echo "include/qssm.h is up to date (cbindgen $CBINDGEN_VERSION)"
