-- Rights and retention (docs/privacy.md). No raw identifier is ever stored here: a tombstone
-- holds sha256('anonymous_id:' || value) / sha256('user_id:' || value), or the hash itself
-- for the *_sha256 kinds. Every later append drops an event one of whose identifiers hits a
-- tombstone.
CREATE TABLE privacy_tombstones (
    hash        VARCHAR PRIMARY KEY,
    kind        VARCHAR NOT NULL,
    erasure_id  VARCHAR NOT NULL,
    erased_at   TIMESTAMPTZ NOT NULL
);

-- One row per erasure request: when, which identifier kinds it named, what it deleted per
-- table, and the tombstone hashes it wrote (never a raw value).
CREATE TABLE privacy_erasures (
    erasure_id  VARCHAR PRIMARY KEY,
    erased_at   TIMESTAMPTZ NOT NULL,
    requested   VARCHAR NOT NULL,       -- the kind the request named, e.g. email_sha256
    kinds       JSON NOT NULL,          -- the kinds of every identifier erased
    hashes      JSON NOT NULL,          -- the tombstone hashes written
    counts      JSON NOT NULL           -- rows deleted per table
);
