#!/usr/bin/env bash
# Starts the built server for the browser tests on a fresh SQLite file with demo data, and
# leaves an API key in $E2E_DIR/api-key for the tests to post their own events.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:?port}
: "${E2E_DIR:?E2E_DIR must name a scratch directory}"
bin=${AUDITRAIL_BIN:-${CARGO_TARGET_DIR:-target}/debug/auditrail}
db="sqlite://$E2E_DIR/e2e.db"
"$bin" demo --events 400 --database "$db" >/dev/null
"$bin" api-keys create --name e2e --database "$db" | tail -n 1 > "$E2E_DIR/api-key"
exec "$bin" serve --addr "127.0.0.1:$port" --database "$db" --site-root target/site
