-- System messages: operational errors, one row per distinct (category, module, message), found
-- by the SHA-256 of the three (the text may be long, and a unique index on it would be big).
-- A repeat adds to seen_count and moves last_seen_at.
CREATE TABLE system_messages (
    id            TEXT    PRIMARY KEY,
    fingerprint   TEXT    NOT NULL UNIQUE,
    category      TEXT    NOT NULL,
    module        TEXT    NOT NULL,
    message       TEXT    NOT NULL,
    metadata      TEXT,
    error         TEXT,
    seen_count    INTEGER NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    is_read       INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX system_messages_by_last_seen ON system_messages (last_seen_at, id);
CREATE INDEX system_messages_unread ON system_messages (is_read) WHERE is_read = 0;
