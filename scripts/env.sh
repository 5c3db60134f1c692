# Sourced by the run and test scripts: where builds go and which tools they use.
# Outside the checkout so a fresh clone reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/auditrail/target}"
# npm's wasm-opt before any other (see scripts/setup.sh).
PATH="$(pwd)/tools/node_modules/.bin:$PATH"
export PATH
