-- Identity stitching (convtrack.identity): the graph's state, replaced whole by each rebuild.
-- "at" is quoted: it is a keyword in DuckDB.
-- identity_people is what attribution's StitchedPeople joins: one person per anonymous id.
CREATE TABLE identity_people (
    anonymous_id VARCHAR PRIMARY KEY,
    person_id    VARCHAR NOT NULL
);

-- Every observed identifier and its person; first_seen orders identifiers by arrival.
CREATE TABLE identity_identifiers (
    kind       VARCHAR NOT NULL,        -- anonymous_id | user_id | email_sha256 | ...
    value      VARCHAR NOT NULL,
    person_id  VARCHAR NOT NULL,
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (kind, value)
);

-- Person `absorbed` became part of person `kept` at event `event_id`, via one identifier.
CREATE TABLE identity_merges (
    kept      VARCHAR NOT NULL,
    absorbed  VARCHAR NOT NULL,
    via_kind  VARCHAR NOT NULL,
    via_value VARCHAR NOT NULL,
    event_id  VARCHAR NOT NULL,
    "at"      TIMESTAMPTZ NOT NULL
);

-- A link the stitching policy refused (a kind that may not merge, or a size cap).
CREATE TABLE identity_refused (
    person_id       VARCHAR NOT NULL,
    other_person_id VARCHAR NOT NULL,
    via_kind        VARCHAR NOT NULL,
    via_value       VARCHAR NOT NULL,
    reason          VARCHAR NOT NULL,   -- kind_not_merging | max_person_identifiers | ...
    size            INTEGER NOT NULL,   -- the merged person's size (0 for a kind)
    cap             INTEGER NOT NULL,
    event_id        VARCHAR NOT NULL,
    "at"            TIMESTAMPTZ NOT NULL
);
