-- Events per hour of sort key (occurred_at, as lists order and bound it) by project, category
-- and result, kept by ingest in the events' own transaction: counts and histograms over those
-- filters add up a few rows per hour instead of reading every event. Keyed by hour first, so
-- a time range reads only its own hours.
CREATE TABLE event_hours (
    hour     INTEGER NOT NULL,
    project  TEXT    NOT NULL,
    category TEXT    NOT NULL,
    result   TEXT    NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (hour, project, category, result)
) WITHOUT ROWID;

-- 3686400000000 = one hour of sort keys (µs × 1024 slots).
INSERT INTO event_hours (hour, project, category, result, n)
SELECT sort_key / 3686400000000, project, category, result, COUNT(*)
FROM events
GROUP BY 1, 2, 3, 4;
