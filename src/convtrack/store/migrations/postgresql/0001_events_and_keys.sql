-- The canonical events table (see docs/events.md) and write keys (hashed at rest); mirrors
-- migrations/duckdb/0001. JSON columns are jsonb, timestamps timestamptz; ids sort bytewise
-- (COLLATE "C") so (received_at, event_id) pages the same way on every engine.
CREATE TABLE events (
    event_id            text COLLATE "C" PRIMARY KEY,
    event_name          text NOT NULL,
    type                text NOT NULL,
    source              text NOT NULL,
    occurred_at         timestamptz NOT NULL,
    received_at         timestamptz NOT NULL,
    sent_at             timestamptz,
    client_timestamp    timestamptz,
    anonymous_id        text,
    user_id             text,
    session_id          text,
    page_url            text,
    referrer            text,
    page_title          text,
    user_agent          text,
    ip                  text,
    locale              text,
    utm_source          text,
    utm_medium          text,
    utm_campaign        text,
    utm_term            text,
    utm_content         text,
    utm_id              text,
    utm_source_platform text,
    utm_creative_format text,
    utm_marketing_tactic text,
    gclid               text,
    gbraid              text,
    wbraid              text,
    dclid               text,
    fbclid              text,
    ttclid              text,
    msclkid             text,
    li_fat_id           text,
    twclid              text,
    "ScCid"             text,
    epik                text,
    rdt_cid             text,
    irclickid           text,
    gclsrc              text,
    gad_source          text,
    gad_campaignid      text,
    click_at            timestamptz,
    email_sha256        text,
    phone_sha256        text,
    external_id_sha256  text,
    pii_raw             jsonb,
    consent             jsonb,
    value               numeric(18, 6),
    currency            text,
    order_id            text,
    properties          jsonb,
    key_id              text
);
-- What events_after and tails page by.
CREATE INDEX events_received ON events (received_at, event_id);

CREATE TABLE write_keys (
    key_id      text PRIMARY KEY,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('public', 'secret')),
    prefix      text NOT NULL,
    key_hash    text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

-- Events that failed validation: kept with the raw payload and the reasons, never dropped.
CREATE TABLE quarantine (
    reject_id   text COLLATE "C" PRIMARY KEY,
    received_at timestamptz NOT NULL,
    source      text NOT NULL,
    key_id      text,
    payload     text NOT NULL,
    reasons     jsonb NOT NULL
);
CREATE INDEX quarantine_received ON quarantine (received_at, reject_id);
