-- Consent at ingest and per-platform hashes (enrich.privacy, enrich.pii; docs/privacy.md).
ALTER TABLE events ADD COLUMN pii_hashed jsonb;
ALTER TABLE events ADD COLUMN consent_decision jsonb;
