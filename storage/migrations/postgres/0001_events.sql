-- Same model as the SQLite schema (see its comments); differences are noted here.
-- sort_key is the keyset-paging key: occurred_at in µs × 1024 + a slot. Events are partitioned
-- by month on it (a month of sort keys is a month of occurred_at), so years of events stay
-- manageable and retention can drop a month at once. The server creates partitions ahead of
-- time and for any month an insert reaches (storage/src/postgres.rs).
CREATE TABLE events (
    sort_key     BIGINT  NOT NULL,
    id           TEXT    NOT NULL,
    occurred_at  BIGINT  NOT NULL,
    received_at  BIGINT  NOT NULL,
    project      TEXT    NOT NULL,
    category     TEXT    NOT NULL,
    module       TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    result       TEXT    NOT NULL CHECK (result IN ('success', 'failure')),
    actor_id     TEXT,
    actor_name   TEXT,
    actor_email  TEXT,
    actor_type   TEXT,
    source_ip    TEXT,
    user_agent   TEXT,
    target_type  TEXT,
    target_id    TEXT,
    target_name  TEXT,
    description  TEXT,
    error        TEXT,
    details      TEXT    NOT NULL DEFAULT '{}',
    trace_id     TEXT,
    PRIMARY KEY (sort_key)
) PARTITION BY RANGE (sort_key);

-- Unique ids across partitions: the idempotency key, and what flags refer to.
CREATE TABLE event_ids (
    id       TEXT   PRIMARY KEY,
    sort_key BIGINT NOT NULL
);
CREATE INDEX events_id ON events (id);

-- Postgres indexes carry no implicit row key, so each names sort_key to serve
-- "WHERE col = $1 AND sort_key < $2 ORDER BY sort_key DESC" without a sort.
CREATE INDEX events_project     ON events (project, sort_key DESC);
CREATE INDEX events_category    ON events (category, sort_key DESC);
CREATE INDEX events_module      ON events (module, sort_key DESC);
CREATE INDEX events_action      ON events (action, sort_key DESC);
CREATE INDEX events_result      ON events (result, sort_key DESC);
CREATE INDEX events_actor_id    ON events (actor_id, sort_key DESC);
CREATE INDEX events_actor_name  ON events (actor_name, sort_key DESC);
CREATE INDEX events_actor_email ON events (actor_email, sort_key DESC);
CREATE INDEX events_source_ip   ON events (source_ip, sort_key DESC);
CREATE INDEX events_target_id   ON events (target_id, sort_key DESC);
CREATE INDEX events_target_name ON events (target_name, sort_key DESC);
CREATE INDEX events_trace_id    ON events (trace_id, sort_key DESC);

-- Keyword search: the words of the searchable fields, split exactly as the query is (letters and
-- digits, lower-cased) so both backends match the same events, in a GIN-indexed tsvector.
CREATE TABLE event_search (
    sort_key BIGINT   NOT NULL,
    doc      TSVECTOR NOT NULL,
    PRIMARY KEY (sort_key)
) PARTITION BY RANGE (sort_key);
CREATE INDEX event_search_doc ON event_search USING GIN (doc);

CREATE TABLE event_flags (
    event_id   TEXT   PRIMARY KEY REFERENCES event_ids (id),
    flagged_at BIGINT NOT NULL
);

CREATE TABLE facet_values (
    kind        TEXT   NOT NULL,
    project     TEXT   NOT NULL,
    value       TEXT   NOT NULL,
    event_count BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    PRIMARY KEY (kind, project, value)
);

CREATE TABLE api_keys (
    id          TEXT   PRIMARY KEY,
    name        TEXT   NOT NULL,
    secret_hash TEXT   NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
