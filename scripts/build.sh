#!/usr/bin/env bash
# Builds the web app and the server binary: what `cargo leptos build [--release]` does for this
# workspace, with the same profiles, flags, environment and target directories, so either tool
# reuses the other's cache. Leaves the site in target/site and the binary in
# $CARGO_TARGET_DIR/{debug,release}/auditrail. Installs the tools it needs first (scripts/setup.sh).
#   build.sh [debug|release] [--site-only]
# --site-only leaves the server out: scripts/test.sh serves the site with the binary `cargo test`
# built (with the same flags, and the test-only features its dev-dependencies turn on).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

usage() { echo "usage: scripts/build.sh [debug|release] [--site-only]" >&2; exit 2; }
mode=debug
server=true
for arg in "$@"; do
    case "$arg" in
        debug | release) mode=$arg ;;
        --site-only) server=false ;;
        *) usage ;;
    esac
done
if [ "$mode" = release ]; then
    wasm_profile=(--profile=wasm-release)
    wasm_dir=wasm-release
    server_profile=(--release)
else
    wasm_profile=()
    wasm_dir=debug
    server_profile=()
fi
# LEPTOS_OUTPUT_NAME, the one setting Leptos reads at compile time, comes from
# .cargo/config.toml so that every build in this checkout (cargo test's too) sets it.
rustflags=$(leptos_rustflags)

# The tools the steps below need. Installing them (once) before the builds start: measured on two
# cores, overlapping the install with the builds made the whole run slower, not faster.
scripts/setup.sh

site=target/site
pkg=$site/pkg
rm -rf "$site"
mkdir -p "$pkg"
cp -R public/. "$site/"
# Copied as written: cargo-leptos would also run lightningcss over it (vendor prefixes for
# browserslist "defaults", minified in release), which this plain CSS does not need.
cp style/main.css "$pkg/auditrail.css"

if $server; then
    # As cargo-leptos does, the server and the browser app build at the same time (they have
    # separate target directories), so one build's single-threaded stretches (LTO, linking)
    # leave a core to the other. In its own process group, so a failure below stops all of it.
    server_log="$CARGO_TARGET_DIR/build-server-$mode.log"
    mkdir -p "$CARGO_TARGET_DIR"
    step "build.sh $mode: server (auditrail_server) in the background, log in $server_log"
    RUSTFLAGS="$rustflags" setsid --wait cargo build --package=auditrail_server --bin=auditrail \
        --no-default-features "${server_profile[@]}" >"$server_log" 2>&1 &
    server_pid=$!
    trap 'kill -- "-$server_pid" 2>/dev/null || true' EXIT
fi

step "build.sh $mode: browser app (auditrail_frontend for wasm32)"
RUSTFLAGS="$rustflags" cargo build --package=auditrail_frontend --lib \
    --target=wasm32-unknown-unknown --no-default-features --target-dir="$CARGO_TARGET_DIR/front" \
    "${wasm_profile[@]}"

step "build.sh $mode: wasm-bindgen"
wasm-bindgen --target=web --out-name=auditrail --out-dir="$pkg" \
    "$CARGO_TARGET_DIR/front/wasm32-unknown-unknown/$wasm_dir/auditrail_frontend.wasm"
mv "$pkg/auditrail_bg.wasm" "$pkg/auditrail.wasm"
if [ "$mode" = release ]; then
    step "build.sh $mode: wasm-opt -Oz"
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
        "$pkg/auditrail.wasm" -o "$pkg/auditrail.wasm"
fi
# A server compiled without LEPTOS_OUTPUT_NAME (by any tool that does not read
# .cargo/config.toml) asks for auditrail_bg.wasm: the same file under that name too.
ln -f "$pkg/auditrail.wasm" "$pkg/auditrail_bg.wasm"

if $server; then
    step "build.sh $mode: waiting for the server build"
    if ! wait "$server_pid"; then
        cat "$server_log" >&2
        echo "build.sh: the server build failed (its output is above)" >&2
        exit 1
    fi
    trap - EXIT
    tail -n 1 "$server_log"
fi
step "build.sh $mode: done: site in $site"
