-- Every copy of a conversion the collectors accepted, by source (docs/qa.md, "Browser vs
-- server"). `events` keeps one row per event_id, so a browser copy and a server copy sharing
-- an id leave one row with one source; this log remembers that both arrived. Each append
-- adds one row per (event_id, source) in its batch, in the same transaction as the events:
-- `copies` is how many copies that batch carried, `received_at` the first of them and
-- `last_received_at` the latest. Append-only, no key: readers sum over event_id and source.
CREATE TABLE event_copies (
    event_id         VARCHAR NOT NULL,
    source           VARCHAR NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL,
    last_received_at TIMESTAMPTZ NOT NULL,
    copies           BIGINT NOT NULL
);
