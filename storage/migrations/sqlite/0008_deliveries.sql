-- Daily deliveries to object storage, and one row per delivered (or attempted) day. A day is
-- claimed under a lease like an export job; a row that is `done` is never delivered again on
-- schedule, only on request.
CREATE TABLE deliveries (
    name        TEXT    PRIMARY KEY,
    destination TEXT    NOT NULL,
    format      TEXT    NOT NULL,
    time_zone   TEXT    NOT NULL,
    query       TEXT    NOT NULL,
    at_minute   INTEGER NOT NULL,
    first_day   TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE delivery_runs (
    delivery        TEXT    NOT NULL REFERENCES deliveries (name) ON DELETE CASCADE,
    day             TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    worker          TEXT,
    lease_until     INTEGER,
    next_attempt_at INTEGER,
    object          TEXT,
    row_count       INTEGER,
    bytes           INTEGER,
    sha256          TEXT,
    error           TEXT,
    started_at      INTEGER,
    finished_at     INTEGER,
    PRIMARY KEY (delivery, day)
) STRICT;
