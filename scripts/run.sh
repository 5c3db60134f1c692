#!/usr/bin/env bash
# Builds Auditrail in release mode and serves it on an embedded SQLite file under ./data,
# seeded with demo events on first start.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/build.sh release

bin="$CARGO_TARGET_DIR/release/auditrail"
export AUDITRAIL_DATABASE_URL="${AUDITRAIL_DATABASE_URL:-sqlite://data/auditrail.db}"
export AUDITRAIL_ADDR="${AUDITRAIL_ADDR:-127.0.0.1:3000}"

first_start=false
[ -f data/auditrail.db ] || first_start=true
step "seeding demo events (first start only) and starting the server"
"$bin" demo --events 5000 --if-empty
if $first_start; then
    echo
    echo "An API key for posting events (shown once; create more with 'auditrail api-keys create'):"
    "$bin" api-keys create --name "demo" | tail -n 1
fi
echo
echo "Open http://$AUDITRAIL_ADDR/ and sign in. On first start the admin's email and password"
echo "are printed just below, once; 'auditrail users reset-password --email …' sets a new one."
exec "$bin" serve --site-root target/site
