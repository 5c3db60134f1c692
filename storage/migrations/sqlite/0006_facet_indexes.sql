-- Facets show the most recently seen values of each kind, in some projects or across all, and
-- count exactly those values: each step reads these indexes a bounded way instead of every
-- value ever stored.
CREATE INDEX facet_values_recent ON facet_values (kind, last_seen);
CREATE INDEX facet_values_project_recent ON facet_values (kind, project, last_seen);
CREATE INDEX facet_values_by_value ON facet_values (kind, value);
