-- Keys this deployment signs its tokens with (page cursors). Made once, on first start; every
-- server sharing the database reads the same ones.
CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
