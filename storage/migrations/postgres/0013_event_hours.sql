-- Same as SQLite's 0013: events per hour of sort key, by project, category and result, and
-- also by module and action.

-- Another server may be ingesting while this runs: hold its inserts until the counts below
-- are committed, so none is left out of them.
-- A session left idle in a transaction must not hold the start up forever: fail, and say so.
SET LOCAL lock_timeout = '60s';
LOCK TABLE events IN SHARE MODE;
CREATE TABLE event_hours (
    hour     BIGINT NOT NULL,
    project  TEXT   NOT NULL,
    category TEXT   NOT NULL,
    result   TEXT   NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (hour, project, category, result)
);

CREATE TABLE event_action_hours (
    hour     BIGINT NOT NULL,
    project  TEXT   NOT NULL,
    category TEXT   NOT NULL,
    module   TEXT   NOT NULL,
    action   TEXT   NOT NULL,
    result   TEXT   NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (hour, project, category, module, action, result)
);
CREATE INDEX event_action_hours_module ON event_action_hours (module, hour);
CREATE INDEX event_action_hours_action ON event_action_hours (action, hour);

INSERT INTO event_hours (hour, project, category, result, n)
SELECT sort_key / 3686400000000, project, category, result, COUNT(*)
FROM events
GROUP BY 1, 2, 3, 4;

INSERT INTO event_action_hours (hour, project, category, module, action, result, n)
SELECT sort_key / 3686400000000, project, category, module, action, result, COUNT(*)
FROM events
GROUP BY 1, 2, 3, 4, 5, 6;
