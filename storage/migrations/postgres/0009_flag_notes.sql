-- A flag says who set it and why, beside when: events never change, flags sit beside them.
ALTER TABLE event_flags ADD COLUMN note TEXT;
ALTER TABLE event_flags ADD COLUMN flagged_by TEXT;
