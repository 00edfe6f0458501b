-- Quarantine rows keep what replay needs to rebuild the event as it arrived (the request's
-- IP, user agent and batch sent_at), and their replay state (see docs/tracking-plan.md).
ALTER TABLE quarantine ADD COLUMN event_name text;
ALTER TABLE quarantine ADD COLUMN ip text;
ALTER TABLE quarantine ADD COLUMN user_agent text;
ALTER TABLE quarantine ADD COLUMN batch_sent_at timestamptz;
ALTER TABLE quarantine ADD COLUMN status text NOT NULL DEFAULT 'quarantined';
ALTER TABLE quarantine ADD COLUMN replayed_at timestamptz;
ALTER TABLE quarantine ADD COLUMN replayed_event_id text;
