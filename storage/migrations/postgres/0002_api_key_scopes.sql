-- What a key may do: a comma-separated subset of ingest, read, export. Existing keys keep all.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'ingest,read,export';
