-- Quarantine rows keep what replay needs to rebuild the event as it arrived (the request's
-- IP, user agent and batch sent_at), and their replay state (see docs/tracking-plan.md).
ALTER TABLE quarantine ADD COLUMN event_name VARCHAR;
ALTER TABLE quarantine ADD COLUMN ip VARCHAR;
ALTER TABLE quarantine ADD COLUMN user_agent VARCHAR;
ALTER TABLE quarantine ADD COLUMN batch_sent_at TIMESTAMPTZ;
ALTER TABLE quarantine ADD COLUMN status VARCHAR NOT NULL DEFAULT 'quarantined';
ALTER TABLE quarantine ADD COLUMN replayed_at TIMESTAMPTZ;
ALTER TABLE quarantine ADD COLUMN replayed_event_id VARCHAR;
