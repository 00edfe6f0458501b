-- A device's advertising id (GAID / IDFA), hashed at the edge like the other identifiers
-- (enrich.pii): an identity-graph kind, so an app install stitches to the click that
-- carried the same id (docs/mobile.md).
ALTER TABLE events ADD COLUMN advertising_id_sha256 VARCHAR;
