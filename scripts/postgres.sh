# Sourced by scripts/test.sh: makes sure a local Postgres 15 (Debian's cluster 15/main) is
# running for the tests, with a role that may create throwaway databases, and exports
# AUDITRAIL_TEST_POSTGRES_URL. It stops the server on exit only if it started it, and drops the
# databases the tests created.
PG_TEST_ROLE=auditrail_test
export AUDITRAIL_TEST_POSTGRES_URL="postgres://$PG_TEST_ROLE:$PG_TEST_ROLE@127.0.0.1:5432/postgres"

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

pg_started_here=false
if ! pg_lsclusters -h 2>/dev/null | awk '$1 == "15" && $2 == "main" { print $4 }' | grep -qx online; then
    step "pg_ctlcluster 15 main start"
    if [ "$(id -u)" = 0 ]; then pg_ctlcluster 15 main start; else sudo pg_ctlcluster 15 main start; fi
    pg_started_here=true
fi

as_postgres psql -qAt -v ON_ERROR_STOP=1 <<SQL
DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_TEST_ROLE') THEN
        CREATE ROLE $PG_TEST_ROLE LOGIN PASSWORD '$PG_TEST_ROLE' CREATEDB;
    END IF;
END \$\$;
SQL

drop_test_databases() {
    as_postgres psql -qAt -c "SELECT datname FROM pg_database WHERE datname LIKE 'at\\_%'" |
        while read -r db; do as_postgres psql -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"; done
}

postgres_cleanup() {
    drop_test_databases || true
    if $pg_started_here; then
        step "pg_ctlcluster 15 main stop (started by this run)"
        if [ "$(id -u)" = 0 ]; then pg_ctlcluster 15 main stop; else sudo pg_ctlcluster 15 main stop; fi
    fi
}
trap postgres_cleanup EXIT
drop_test_databases
