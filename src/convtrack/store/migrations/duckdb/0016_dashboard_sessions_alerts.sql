-- Dashboard sessions (docs/dashboard.md): every collector on this store knows every session,
-- and signing out ends it everywhere. Only the SHA-256 of the session id is stored: the raw id
-- lives in the browser's cookie, so a copy of this table gives no live cookie.
CREATE TABLE dashboard_sessions (
    id_hash    VARCHAR PRIMARY KEY,
    csrf       VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL
);

-- Alerts (docs/qa.md): the open alert of a condition has the condition's key, so a second
-- node's insert of it does nothing and only the first node posts the webhook. When the
-- condition clears, cleared_at is set and the key renamed (condition keeps the original), so
-- the condition alerts again if it comes back.
CREATE TABLE alerts (
    key              VARCHAR PRIMARY KEY,
    condition        VARCHAR NOT NULL,
    kind             VARCHAR NOT NULL,
    message          VARCHAR NOT NULL,
    details          JSON NOT NULL,
    raised_at        TIMESTAMPTZ NOT NULL,
    cleared_at       TIMESTAMPTZ,
    webhook_status   VARCHAR NOT NULL,
    webhook_attempts INTEGER NOT NULL DEFAULT 0,
    webhook_error    VARCHAR NOT NULL DEFAULT ''
);
