-- Events per hour of sort key (occurred_at, as lists order and bound it), kept by ingest in the
-- events' own transaction: counts and histograms add up a few rows per hour instead of reading
-- every event. Keyed by hour first, so a time range reads only its own hours.
-- 3686400000000 = one hour of sort keys (µs × 1024 slots).

-- By project, category and result: few rows an hour, for the broad filters.
CREATE TABLE event_hours (
    hour     INTEGER NOT NULL,
    project  TEXT    NOT NULL,
    category TEXT    NOT NULL,
    result   TEXT    NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (hour, project, category, result)
) WITHOUT ROWID;

-- Also by module and action, for filters naming either (each has its index).
CREATE TABLE event_action_hours (
    hour     INTEGER NOT NULL,
    project  TEXT    NOT NULL,
    category TEXT    NOT NULL,
    module   TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    result   TEXT    NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (hour, project, category, module, action, result)
) WITHOUT ROWID;
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
