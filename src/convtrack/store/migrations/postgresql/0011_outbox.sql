-- The forwarding outbox (docs/destinations.md, "Operating the outbox"); see
-- migrations/duckdb/0011. job_id = event_id || ':' || destination.
CREATE TABLE outbox (
    job_id          text PRIMARY KEY,
    event_id        text NOT NULL,
    destination     text NOT NULL,
    conversion      text NOT NULL,
    platform_event  text NOT NULL,
    status          text NOT NULL DEFAULT 'pending',  -- pending|inflight|delivered|dead
    attempts        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    lease_until     timestamptz,
    delivered_at    timestamptz,
    last_error      text
);
-- What a claim scans: the due jobs of one destination.
CREATE INDEX outbox_due ON outbox (destination, status, next_attempt_at);
CREATE INDEX outbox_event ON outbox (event_id);

CREATE TABLE delivery_log (
    job_id      text NOT NULL,
    event_id    text NOT NULL,
    destination text NOT NULL,
    attempt     integer NOT NULL,
    "at"        timestamptz NOT NULL,
    outcome     text NOT NULL,           -- delivered|retry|dead
    http_status integer,
    latency_ms  double precision,
    excerpt     text
);

CREATE TABLE destination_state (
    destination          text PRIMARY KEY,
    paused_at            timestamptz,
    reason               text,
    consecutive_failures integer NOT NULL DEFAULT 0
);
