-- Events are clustered by sort_key = occurred_at in µs × 1024 + a slot for events sharing a
-- microsecond. Being the rowid, it gives newest-first keyset paging on the table itself, and the
-- FTS index (keyed by the same rowid) can walk matches newest-first and stop after one page.
CREATE TABLE events (
    sort_key     INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    occurred_at  INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
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
    trace_id     TEXT
) STRICT;

-- SQLite appends the rowid to every index entry, so each of these serves
-- "WHERE col = ? AND sort_key < ? ORDER BY sort_key DESC" without a sort.
CREATE INDEX events_project     ON events (project);
CREATE INDEX events_category    ON events (category);
CREATE INDEX events_module      ON events (module);
CREATE INDEX events_action      ON events (action);
CREATE INDEX events_result      ON events (result);
CREATE INDEX events_actor_id    ON events (actor_id);
CREATE INDEX events_actor_name  ON events (actor_name);
CREATE INDEX events_actor_email ON events (actor_email);
CREATE INDEX events_source_ip   ON events (source_ip);
CREATE INDEX events_target_id   ON events (target_id);
CREATE INDEX events_target_name ON events (target_name);
CREATE INDEX events_trace_id    ON events (trace_id);

-- Contentless: the text lives in events; contentless_delete keeps retention possible.
CREATE VIRTUAL TABLE events_fts USING fts5(
    description, error, target, actor, details,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Flags are follow-up marks on an event, kept apart so events themselves stay append-only.
CREATE TABLE event_flags (
    event_id   TEXT    PRIMARY KEY REFERENCES events (id),
    flagged_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Distinct values for the filter dropdowns, maintained at ingest so facets never scan events.
CREATE TABLE facet_values (
    kind        TEXT    NOT NULL,
    project     TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    event_count INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    PRIMARY KEY (kind, project, value)
) STRICT, WITHOUT ROWID;

CREATE TABLE api_keys (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    secret_hash TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;
