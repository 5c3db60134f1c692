#!/usr/bin/env bash
# Starts the built server for the browser tests on a fresh database with demo data, one user per
# role the tests sign in as (password in end2end/tests/support.ts), and an API key left in
# $E2E_DIR/<port>/api-key for the tests to post their own events.
#   e2e-server.sh PORT sqlite     a SQLite file under $E2E_DIR
#   e2e-server.sh PORT postgres   a new database on $AUDITRAIL_TEST_POSTGRES_URL's server
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:?port}
backend=${2:?sqlite or postgres}
: "${E2E_DIR:?E2E_DIR must name a scratch directory}"
bin=${AUDITRAIL_BIN:-${CARGO_TARGET_DIR:-target}/debug/auditrail}
mkdir -p "$E2E_DIR/$port"
case "$backend" in
    sqlite)
        # A fresh file each start: the release-build run follows the debug one in one E2E_DIR.
        rm -f "$E2E_DIR/$port"/e2e.db*
        db="sqlite://$E2E_DIR/$port/e2e.db"
        ;;
    postgres)
        : "${AUDITRAIL_TEST_POSTGRES_URL:?scripts/test.sh sets AUDITRAIL_TEST_POSTGRES_URL}"
        name="at_e2e_$(date +%s)_$$"
        psql -qAt "$AUDITRAIL_TEST_POSTGRES_URL" -c "CREATE DATABASE $name"
        db="${AUDITRAIL_TEST_POSTGRES_URL%/*}/$name"
        ;;
    *) echo "unknown backend $backend" >&2; exit 2 ;;
esac
"$bin" demo --events 400 --database "$db" >/dev/null
"$bin" api-keys create --name e2e --database "$db" | tail -n 1 > "$E2E_DIR/$port/api-key"
password="e2e password, not a secret"
user() {
    echo "$password" | "$bin" users create --password-stdin --database "$db" "$@" >/dev/null
}
user --email admin@e2e.test --role admin
user --email viewer@e2e.test --role viewer
user --email shop@e2e.test --role auditor --project e2e-shop
# Two deliveries with a day each behind them: one delivered, one whose folder became a file.
# (The release-build run follows the debug one in the same E2E_DIR: start from nothing.)
rm -rf "$E2E_DIR/$port/delivered" "$E2E_DIR/$port/broken"
yesterday=$(date -u -d yesterday +%F)
"$bin" deliveries add --name daily --to "file://$E2E_DIR/$port/delivered" --query project=e2e-shop \
    --database "$db" >/dev/null
"$bin" deliveries run daily --date "$yesterday" --database "$db" >/dev/null
"$bin" deliveries add --name broken --to "file://$E2E_DIR/$port/broken" --database "$db" >/dev/null
rm -rf "$E2E_DIR/$port/broken" && touch "$E2E_DIR/$port/broken"
! "$bin" deliveries run broken --date "$yesterday" --database "$db" >/dev/null 2>&1
exec "$bin" serve --addr "127.0.0.1:$port" --database "$db" --site-root target/site \
    --export-dir "$E2E_DIR/$port/exports" --log-dir "$E2E_DIR/$port/logs"
