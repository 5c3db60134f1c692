-- Indexes for the `details` keys the log views filter by (model::DETAIL_KEYS), on the same
-- expression the query uses; partial, so events without the key cost nothing to index.
CREATE INDEX events_detail_login_source ON events ((details::jsonb ->> 'login_source'), sort_key) WHERE (details::jsonb ->> 'login_source') IS NOT NULL;
CREATE INDEX events_detail_status ON events ((details::jsonb ->> 'status'), sort_key) WHERE (details::jsonb ->> 'status') IS NOT NULL;
CREATE INDEX events_detail_integration ON events ((details::jsonb ->> 'integration'), sort_key) WHERE (details::jsonb ->> 'integration') IS NOT NULL;
CREATE INDEX events_detail_integration_type ON events ((details::jsonb ->> 'integration_type'), sort_key) WHERE (details::jsonb ->> 'integration_type') IS NOT NULL;
CREATE INDEX events_detail_failure_type ON events ((details::jsonb ->> 'failure_type'), sort_key) WHERE (details::jsonb ->> 'failure_type') IS NOT NULL;
