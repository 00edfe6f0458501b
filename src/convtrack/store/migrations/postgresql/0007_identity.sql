-- Identity stitching (convtrack.identity): the graph's state, replaced whole by each rebuild.
-- identity_people is what attribution's StitchedPeople joins: one person per anonymous id.
-- Unlike DuckDB (migrations/duckdb/0012) the primary keys stay: PostgreSQL's b-trees are
-- cheap to keep, and several writers need the database to hold the uniqueness.
CREATE TABLE identity_people (
    anonymous_id text PRIMARY KEY,
    person_id    text NOT NULL
);

-- Every observed identifier and its person; first_seen orders identifiers by arrival.
CREATE TABLE identity_identifiers (
    kind       text NOT NULL,        -- anonymous_id | user_id | email_sha256 | ...
    value      text NOT NULL,
    person_id  text NOT NULL,
    first_seen bigint NOT NULL,
    PRIMARY KEY (kind, value)
);

-- Person `absorbed` became part of person `kept` at event `event_id`, via one identifier.
CREATE TABLE identity_merges (
    kept      text NOT NULL,
    absorbed  text NOT NULL,
    via_kind  text NOT NULL,
    via_value text NOT NULL,
    event_id  text NOT NULL,
    "at"      timestamptz NOT NULL
);

-- A link the stitching policy refused (a kind that may not merge, or a size cap).
CREATE TABLE identity_refused (
    person_id       text NOT NULL,
    other_person_id text NOT NULL,
    via_kind        text NOT NULL,
    via_value       text NOT NULL,
    reason          text NOT NULL,   -- kind_not_merging | max_person_identifiers | ...
    size            integer NOT NULL,
    cap             integer NOT NULL,
    event_id        text NOT NULL,
    "at"            timestamptz NOT NULL
);
