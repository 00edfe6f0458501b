-- identity_identifiers and identity_people without their PRIMARY KEYs (0007). Stitching at
-- ingest inserts a row per new identifier in every append's transaction, and keeping the ART
-- indexes cost about as much as the rows themselves (docs/benchmarks.md); point lookups read
-- no faster with them. The identity graph in memory is what keeps (kind, value) and
-- anonymous_id unique: it adds an identifier once, and a rebuild or replace writes each once
-- (store/duckdb_identity.py checks a replace's rows; tests/store/test_identity_store.py).
-- DuckDB cannot drop a primary key in place: each table is made again, rows copied.
ALTER TABLE identity_identifiers RENAME TO identity_identifiers_0011;
CREATE TABLE identity_identifiers (
    kind       VARCHAR NOT NULL,        -- anonymous_id | user_id | email_sha256 | ...
    value      VARCHAR NOT NULL,
    person_id  VARCHAR NOT NULL,
    first_seen BIGINT NOT NULL
);
INSERT INTO identity_identifiers SELECT kind, value, person_id, first_seen
FROM identity_identifiers_0011 ORDER BY first_seen;
DROP TABLE identity_identifiers_0011;

ALTER TABLE identity_people RENAME TO identity_people_0011;
CREATE TABLE identity_people (
    anonymous_id VARCHAR NOT NULL,
    person_id    VARCHAR NOT NULL
);
INSERT INTO identity_people SELECT anonymous_id, person_id FROM identity_people_0011;
DROP TABLE identity_people_0011;
