-- Consent at ingest and per-platform hashes (enrich.privacy, enrich.pii; docs/privacy.md).
-- pii_hashed: {field: {"*": hash most platforms share, platform: hash where it differs}}.
-- consent_decision: the decision applied at ingest (modes, destinations, signals, reasons).
ALTER TABLE events ADD COLUMN pii_hashed JSON;
ALTER TABLE events ADD COLUMN consent_decision JSON;
