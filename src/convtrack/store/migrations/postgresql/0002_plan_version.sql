-- The tracking plan version each stored event was checked against at ingest, and the one a
-- quarantined event failed (NULL: stored before plans were enforced, or failed before the plan).
ALTER TABLE events ADD COLUMN plan_version text;
ALTER TABLE quarantine ADD COLUMN plan_version text;
