-- Kept in step with duckdb/0012, which drops the PRIMARY KEYs of identity_identifiers and
-- identity_people because DuckDB's ART index maintenance cost as much as the rows at ingest.
-- PostgreSQL's B-tree keys are cheap and guard uniqueness across collector processes, so
-- they stay: this migration only keeps the schema versions of both engines equal.
SELECT 1;
