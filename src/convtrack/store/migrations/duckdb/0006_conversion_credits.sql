-- Attribution credits for SQL users (docs/attribution.md, "The conversion_credits table"):
-- one row per conversion × touchpoint × model, written by `convtrack attribute --save`.
-- A save replaces the rows of its models for conversions in its date range.
CREATE TABLE conversion_credits (
    conversion_key VARCHAR NOT NULL,    -- event_id, U+001F, conversion name
    event_id       VARCHAR NOT NULL,    -- the conversion event
    conversion     VARCHAR NOT NULL,    -- the plan's conversion name
    converted_at   TIMESTAMPTZ NOT NULL,
    model          VARCHAR NOT NULL,
    touch_id       VARCHAR,             -- the event that made the touch; NULL: synthetic direct
    touch_at       TIMESTAMPTZ,
    kind           VARCHAR NOT NULL,    -- click | view | none (synthetic)
    position       INTEGER NOT NULL,    -- 0 = first touch of the path
    touches        INTEGER NOT NULL,    -- path length
    channel        VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,
    medium         VARCHAR NOT NULL,
    campaign       VARCHAR NOT NULL,
    ad             VARCHAR NOT NULL,
    credit         DOUBLE NOT NULL,     -- a conversion's credits sum to 1 per model
    value_credit   DOUBLE,              -- credit × the conversion's value
    currency       VARCHAR,
    computed_at    TIMESTAMPTZ NOT NULL
);
