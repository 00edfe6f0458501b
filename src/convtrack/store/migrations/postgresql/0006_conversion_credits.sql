-- Attribution credits for SQL users (docs/attribution.md, "The conversion_credits table"):
-- one row per conversion × touchpoint × model, written by `convtrack attribute --save`.
CREATE TABLE conversion_credits (
    conversion_key text NOT NULL,    -- event_id, U+001F, conversion name
    event_id       text NOT NULL,    -- the conversion event
    conversion     text NOT NULL,    -- the plan's conversion name
    converted_at   timestamptz NOT NULL,
    model          text NOT NULL,
    touch_id       text,             -- the event that made the touch; NULL: synthetic direct
    touch_at       timestamptz,
    kind           text NOT NULL,    -- click | view | none (synthetic)
    position       integer NOT NULL, -- 0 = first touch of the path
    touches        integer NOT NULL, -- path length
    channel        text NOT NULL,
    source         text NOT NULL,
    medium         text NOT NULL,
    campaign       text NOT NULL,
    ad             text NOT NULL,
    credit         double precision NOT NULL,  -- a conversion's credits sum to 1 per model
    value_credit   double precision,           -- credit × the conversion's value
    currency       text,
    computed_at    timestamptz NOT NULL
);
