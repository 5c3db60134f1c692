-- Users, roles and sessions for the web app; project limits for API keys.

-- Comma-separated projects the key may touch; NULL means every project.
ALTER TABLE api_keys ADD COLUMN projects TEXT;

-- Built-in roles are seeded here and never change through the app; custom roles sit beside them.
CREATE TABLE roles (
    name        TEXT    PRIMARY KEY,
    permissions TEXT    NOT NULL,
    builtin     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
) STRICT;

INSERT INTO roles (name, permissions, builtin, created_at) VALUES
    ('admin', 'logs.view,logs.view_details,logs.export,messages.manage,users.manage,api_keys.manage,settings.manage', 1, 0),
    ('auditor', 'logs.view,logs.view_details,logs.export', 1, 0),
    ('viewer', 'logs.view', 1, 0);

CREATE TABLE users (
    id              TEXT    PRIMARY KEY,
    email           TEXT    NOT NULL UNIQUE,
    role            TEXT    NOT NULL REFERENCES roles (name),
    projects        TEXT,
    password_hash   TEXT    NOT NULL,
    failed_sign_ins INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER,
    created_at      INTEGER NOT NULL,
    deactivated_at  INTEGER
) STRICT;

-- Only the SHA-256 of a session token is stored: a leaked table signs nobody in.
CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
