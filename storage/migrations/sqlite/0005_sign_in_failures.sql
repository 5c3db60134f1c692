-- Failed sign-ins per account and client network (an IPv4 address or an IPv6 /64), counted
-- before the password is checked. Someone who knows only an email can lock its owner out from
-- their own network, not from everywhere; the per-account columns go.
CREATE TABLE sign_in_failures (
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    network      TEXT    NOT NULL,
    failures     INTEGER NOT NULL,
    locked_until INTEGER,
    PRIMARY KEY (user_id, network)
) STRICT;

ALTER TABLE users DROP COLUMN failed_sign_ins;
ALTER TABLE users DROP COLUMN locked_until;
