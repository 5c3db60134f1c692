# Sourced by the build, run and test scripts: where builds go, which tools they use, and how
# they report progress.
# Outside the checkout so a fresh clone reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/auditrail/target}"
# npm's wasm-opt before any other (see scripts/setup.sh).
PATH="$(pwd)/tools/node_modules/.bin:$PATH"
export PATH

# One clock for a script and the scripts it calls, so every progress line tells how long the
# whole command has run so far.
export AUDITRAIL_STARTED_AT="${AUDITRAIL_STARTED_AT:-$(date +%s)}"

step() {
    local elapsed=$(($(date +%s) - AUDITRAIL_STARTED_AT))
    printf '\033[1m==> [%d:%02d] %s\033[0m\n' $((elapsed / 60)) $((elapsed % 60)) "$*"
}

# Every build of the app gets `--cfg erase_components` (Leptos type-erases views, which compiles
# much faster), as cargo-leptos does with `always-erase-components` in Cargo.toml. Builds that
# should share a cache take RUSTFLAGS from here, so the flag is added once and cache keys match.
leptos_rustflags() {
    local flags="${RUSTFLAGS:-}"
    case " $flags " in
        *" --cfg erase_components "*) echo "$flags" ;;
        *) echo "${flags:+$flags }--cfg erase_components" ;;
    esac
}
