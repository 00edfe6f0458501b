-- Every copy of a conversion the collectors accepted, by source; see migrations/duckdb/0015.
-- Append-only: collectors never contend for a row.
CREATE TABLE event_copies (
    event_id         text NOT NULL,
    source           text NOT NULL,
    received_at      timestamptz NOT NULL,
    last_received_at timestamptz NOT NULL,
    copies           bigint NOT NULL
);
CREATE INDEX event_copies_event ON event_copies (event_id);
CREATE INDEX event_copies_received ON event_copies (received_at);
