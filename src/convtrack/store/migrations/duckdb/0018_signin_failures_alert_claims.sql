-- Failed dashboard sign-ins (docs/dashboard.md), counted in the store so that every collector
-- sharing it enforces one limit per address. Only the SHA-256 of the address is stored; a
-- row lives until its window ends (deleted at the next sign-in attempt after that).
CREATE TABLE signin_failures (
    ip_hash  VARCHAR PRIMARY KEY,
    first_at TIMESTAMPTZ NOT NULL,
    attempts INTEGER NOT NULL
);

-- Alerts (docs/qa.md): a pending alert's webhook is claimed by one node at a time. The raiser
-- claims it at insert; a claim older than the lease is taken over by another node, so an
-- alert whose raiser stopped before posting is still posted, once.
ALTER TABLE alerts ADD COLUMN claimed_at TIMESTAMPTZ;
