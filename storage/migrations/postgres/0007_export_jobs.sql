-- Export jobs: a filtered list written to a file in the background. `as_of` fixes the snapshot
-- (and relative time ranges) when the job is asked for, so a job resumed after a restart writes
-- the same rows. A running job holds a lease its worker renews; a lease that lapses (the server
-- died) lets any server take the job again, up to a few attempts.
CREATE TABLE export_jobs (
    id           TEXT    PRIMARY KEY,
    owner        TEXT    NOT NULL,
    created_by   TEXT    NOT NULL,
    format       TEXT    NOT NULL,
    query        TEXT    NOT NULL,
    filename     TEXT    NOT NULL,
    as_of        BIGINT  NOT NULL,
    client_ip    TEXT,
    client_agent TEXT,
    -- What the job may read: the asker's scope, then its owner's when it runs. Who may see or
    -- download it later must read at least as much.
    scope_projects TEXT,
    scope_trail  BIGINT  NOT NULL,
    scope_details BIGINT  NOT NULL,
    status       TEXT    NOT NULL,
    row_count    BIGINT  NOT NULL DEFAULT 0,
    estimate     BIGINT,
    bytes        BIGINT,
    sha256       TEXT,
    error        TEXT,
    attempts     BIGINT  NOT NULL DEFAULT 0,
    worker       TEXT,
    lease_until  BIGINT,
    created_at   BIGINT  NOT NULL,
    finished_at  BIGINT,
    expires_at   BIGINT
);

CREATE INDEX export_jobs_by_owner ON export_jobs (owner, created_at);
CREATE INDEX export_jobs_by_status ON export_jobs (status, created_at);
