-- Export jobs of more than one kind: a filtered list of events, or an archive of the server's own
-- debug log. Jobs made before this are event exports.
ALTER TABLE export_jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'events';
