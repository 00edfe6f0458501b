-- Kept in step with postgresql/0013, which indexes the identity tables for stitching at
-- ingest across collector processes. DuckDB stitches from the graph it keeps in memory
-- (store/duckdb_identity.py) and needs no index: this only keeps both engines' versions equal.
SELECT 1;
