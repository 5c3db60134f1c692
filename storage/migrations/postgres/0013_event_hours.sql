-- Same as SQLite's 0013: events per hour of sort key by project, category and result.
CREATE TABLE event_hours (
    hour     BIGINT NOT NULL,
    project  TEXT   NOT NULL,
    category TEXT   NOT NULL,
    result   TEXT   NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (hour, project, category, result)
);

INSERT INTO event_hours (hour, project, category, result, n)
SELECT sort_key / 3686400000000, project, category, result, COUNT(*)
FROM events
GROUP BY 1, 2, 3, 4;
