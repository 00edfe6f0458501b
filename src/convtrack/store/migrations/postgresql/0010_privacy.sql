-- Rights and retention (docs/privacy.md); see migrations/duckdb/0010. No raw identifier is
-- ever stored here, only hashes.
CREATE TABLE privacy_tombstones (
    hash        text PRIMARY KEY,
    kind        text NOT NULL,
    erasure_id  text NOT NULL,
    erased_at   timestamptz NOT NULL
);

CREATE TABLE privacy_erasures (
    erasure_id  text PRIMARY KEY,
    erased_at   timestamptz NOT NULL,
    requested   text NOT NULL,       -- the kind the request named, e.g. email_sha256
    kinds       jsonb NOT NULL,      -- the kinds of every identifier erased
    hashes      jsonb NOT NULL,      -- the tombstone hashes written
    counts      jsonb NOT NULL       -- rows deleted per table
);

-- A quarantined payload as jsonb, or NULL when it is not JSON (what erasure searches): a
-- payload is kept as received, so it may not parse.
CREATE FUNCTION convtrack_try_jsonb(payload text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN payload::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
