-- The forwarding outbox (docs/destinations.md, "Operating the outbox"). A job is one event for
-- one destination, written in the transaction that stores the event: no lost and no phantom
-- deliveries. job_id = event_id || ':' || destination, so a job exists at most once and a
-- delivered job is never sent again. Rows are keyed by event_id: erasure removes them.
CREATE TABLE outbox (
    job_id          VARCHAR PRIMARY KEY,
    event_id        VARCHAR NOT NULL,
    destination     VARCHAR NOT NULL,
    conversion      VARCHAR NOT NULL,       -- the tracking plan's conversion name
    platform_event  VARCHAR NOT NULL,       -- what the platform calls it (plan platforms.*)
    status          VARCHAR NOT NULL DEFAULT 'pending',  -- pending|inflight|delivered|dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_until     TIMESTAMPTZ,            -- an inflight job whose lease passed is reclaimed
    delivered_at    TIMESTAMPTZ,
    last_error      VARCHAR
);

-- One row per attempt (per job): what the platform answered. Never a secret, never raw PII:
-- the excerpt is the platform's own error text, at most 500 characters, secrets blanked.
CREATE TABLE delivery_log (
    job_id      VARCHAR NOT NULL,
    event_id    VARCHAR NOT NULL,
    destination VARCHAR NOT NULL,
    attempt     INTEGER NOT NULL,
    "at"        TIMESTAMPTZ NOT NULL,
    outcome     VARCHAR NOT NULL,           -- delivered|retry|dead
    http_status INTEGER,
    latency_ms  DOUBLE,
    excerpt     VARCHAR
);

-- A destination paused automatically after sustained failure (or resumed by an operator).
CREATE TABLE destination_state (
    destination          VARCHAR PRIMARY KEY,
    paused_at            TIMESTAMPTZ,
    reason               VARCHAR,
    consecutive_failures INTEGER NOT NULL DEFAULT 0
);
