-- Dashboard sessions (docs/dashboard.md): every collector on this store knows every session,
-- and signing out ends it everywhere. Only the SHA-256 of the session id is stored: the raw id
-- lives in the browser's cookie, so a copy of this table gives no live cookie.
CREATE TABLE dashboard_sessions (
    id_hash    text PRIMARY KEY,
    csrf       text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL
);

-- Alerts (docs/qa.md): the open alert of a condition has the condition's key, so a second
-- node's insert of it does nothing and only the first node posts the webhook. When the
-- condition clears, cleared_at is set and the key renamed (condition keeps the original), so
-- the condition alerts again if it comes back.
CREATE TABLE alerts (
    key              text PRIMARY KEY,
    condition        text NOT NULL,
    kind             text NOT NULL,
    message          text NOT NULL,
    details          jsonb NOT NULL,
    raised_at        timestamptz NOT NULL,
    cleared_at       timestamptz,
    webhook_status   text NOT NULL,
    webhook_attempts integer NOT NULL DEFAULT 0,
    webhook_error    text NOT NULL DEFAULT ''
);
