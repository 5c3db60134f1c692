#!/usr/bin/env bash
# Installs what Auditrail builds with, on a Debian machine that has Rust (rustup).
#   setup.sh           what scripts/build.sh needs: the wasm32 target, wasm-bindgen-cli, wasm-opt
#   setup.sh --test    also what the tests need: Chromium, Postgres 15, Playwright's test runner
#   setup.sh --watch   also cargo-leptos, for `cargo leptos watch` (compiles for ~20 minutes)
# Idempotent: every step checks what is already there, at the right version, and skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

test=false
watch=false
for arg in "$@"; do
    case "$arg" in
        --test) test=true ;;
        --watch) watch=true ;;
        *) echo "usage: scripts/setup.sh [--test] [--watch]" >&2; exit 2 ;;
    esac
done

CARGO_LEPTOS_VERSION=0.3.10
# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages: npm for the build tools below; for the tests Chromium, and Postgres 15 for
# the second backend.
missing=()
command -v npm >/dev/null || missing+=(npm)
if $test; then
    command -v chromium >/dev/null || missing+=(chromium)
    command -v pg_ctlcluster >/dev/null && [ -d /usr/lib/postgresql/15 ] || missing+=(postgresql)
    command -v curl >/dev/null || missing+=(curl)
    python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
    step "setup: apt-get install ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "setup: rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
fi

if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    step "setup: cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (once)"
    # Without --locked: with it, the install fails on this toolchain. Without default features:
    # they add TLS (ring, rustls) for the test runner's downloads, which nothing here uses.
    # In a throwaway target directory, not the app's build cache.
    env -u CARGO_TARGET_DIR cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" \
        --no-default-features --force
fi

# wasm-opt for release builds comes from npm's binaryen: Debian bookworm's binaryen (108)
# produces WASM that fails to start ("WebAssembly.Table.set(): Argument 1 is invalid").
# scripts/env.sh puts tools/node_modules/.bin first on PATH.
if [ ! -x tools/node_modules/.bin/wasm-opt ]; then
    step "setup: npm ci in tools/ (binaryen's wasm-opt)"
    (cd tools && npm ci --no-audit --no-fund)
fi

if $test && [ ! -d end2end/node_modules/@playwright/test ]; then
    step "setup: npm ci in end2end/ (Playwright's test runner; Chromium comes from Debian)"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

# moto's S3-compatible server for the delivery tests, at the version tools/python pins.
moto_wanted=$(sed -n 's/^moto\[server\]==//p' tools/python/requirements.txt)
if $test && [ "$(tools/python/venv/bin/pip show moto 2>/dev/null | sed -n 's/^Version: //p')" != "$moto_wanted" ]; then
    step "setup: pip install -r tools/python/requirements.txt (moto $moto_wanted, into tools/python/venv)"
    python3 -m venv tools/python/venv
    tools/python/venv/bin/pip install -q -r tools/python/requirements.txt
fi

if $watch && [ "$(cargo leptos --version 2>/dev/null || true)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
    step "setup: cargo install cargo-leptos $CARGO_LEPTOS_VERSION (takes ~20 minutes, once)"
    # no_downloads: cargo-leptos finds wasm-bindgen and wasm-opt on PATH instead of fetching
    # them from GitHub, which this network cannot reach.
    env -u CARGO_TARGET_DIR cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked \
        --features no_downloads
fi
