#!/usr/bin/env bash
# Runs every test: formatting and lints; model, storage (SQLite files and a real Postgres 15)
# and API tests; then the browser tests in Chromium against the debug and the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/setup.sh --test
source scripts/postgres.sh
source scripts/s3.sh
trap 'postgres_cleanup; s3_cleanup' EXIT

step "cargo fmt --check"
cargo fmt --all -- --check

# Every cargo step here takes the site build's RUSTFLAGS: the flags are part of cache keys, and
# build scripts and proc macros compiled for clippy are reused by the test build.
rustflags=$(leptos_rustflags)
step "cargo clippy (server side)"
RUSTFLAGS="$rustflags" cargo clippy --workspace --exclude auditrail_frontend --all-targets -- -D warnings
# The frontend crate turns on the app's `hydrate` feature; building it with the server would
# mix `ssr` and `hydrate` in one build, so it is linted on its own target, in the browser app's
# target directory, whose build scripts and proc macros the debug site build then reuses.
step "cargo clippy (browser side, wasm32)"
RUSTFLAGS="$rustflags" cargo clippy -p auditrail_frontend --target wasm32-unknown-unknown \
    --target-dir "$CARGO_TARGET_DIR/front" -- -D warnings

# Also builds $CARGO_TARGET_DIR/debug/auditrail (the process tests run it), which serves the
# debug site below: the site build need not compile the server a second time.
step "cargo test"
RUSTFLAGS="$rustflags" cargo test --workspace --exclude auditrail_frontend

scripts/build.sh debug --site-only

# One scratch directory for the browser tests' databases and keys, removed with Postgres's.
E2E_DIR=$(mktemp -d -t auditrail-e2e-XXXXXX)
export E2E_DIR
trap 'rm -rf "$E2E_DIR"; postgres_cleanup; s3_cleanup' EXIT

step "Playwright (Chromium), debug build"
(cd end2end && npx playwright test)

# The run command serves a release build, whose WASM goes through wasm-opt: check it hydrates
# and works too.
scripts/build.sh release
step "Playwright (Chromium), release build"
(cd end2end && AUDITRAIL_BIN="$CARGO_TARGET_DIR/release/auditrail" npx playwright test)
step "all tests passed"
