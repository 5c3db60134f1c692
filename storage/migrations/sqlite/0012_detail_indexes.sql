-- Indexes for the `details` keys the log views filter by (model::DETAIL_KEYS), on the same
-- expression the query uses; partial, so events without the key cost nothing to index.
CREATE INDEX events_detail_login_source ON events (CAST(json_extract(details, '$.login_source') AS TEXT)) WHERE CAST(json_extract(details, '$.login_source') AS TEXT) IS NOT NULL;
CREATE INDEX events_detail_status ON events (CAST(json_extract(details, '$.status') AS TEXT)) WHERE CAST(json_extract(details, '$.status') AS TEXT) IS NOT NULL;
CREATE INDEX events_detail_integration ON events (CAST(json_extract(details, '$.integration') AS TEXT)) WHERE CAST(json_extract(details, '$.integration') AS TEXT) IS NOT NULL;
CREATE INDEX events_detail_integration_type ON events (CAST(json_extract(details, '$.integration_type') AS TEXT)) WHERE CAST(json_extract(details, '$.integration_type') AS TEXT) IS NOT NULL;
CREATE INDEX events_detail_failure_type ON events (CAST(json_extract(details, '$.failure_type') AS TEXT)) WHERE CAST(json_extract(details, '$.failure_type') AS TEXT) IS NOT NULL;
