-- Daily deliveries to object storage, and one row per delivered (or attempted) day. A day is
-- claimed under a lease like an export job; a row that is `done` is never delivered again on
-- schedule, only on request.
CREATE TABLE deliveries (
    name        TEXT    PRIMARY KEY,
    destination TEXT    NOT NULL,
    format      TEXT    NOT NULL,
    time_zone   TEXT    NOT NULL,
    query       TEXT    NOT NULL,
    at_minute   BIGINT  NOT NULL,
    first_day   TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE delivery_runs (
    delivery        TEXT    NOT NULL REFERENCES deliveries (name) ON DELETE CASCADE,
    day             TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL,
    worker          TEXT,
    lease_until     BIGINT ,
    next_attempt_at BIGINT ,
    object          TEXT,
    row_count       BIGINT ,
    bytes           BIGINT ,
    sha256          TEXT,
    error           TEXT,
    started_at      BIGINT ,
    finished_at     BIGINT ,
    PRIMARY KEY (delivery, day)
);
