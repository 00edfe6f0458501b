-- Click links (docs/mobile.md): `convtrack links create` stores one; GET /c/<link_id> records a
-- click and redirects to `destination`, the only place it ever redirects to.
CREATE TABLE links (
    link_id      VARCHAR PRIMARY KEY,
    destination  VARCHAR NOT NULL,
    platform     VARCHAR NOT NULL CHECK (platform IN ('web', 'ios', 'android')),
    utm_campaign VARCHAR NOT NULL,
    utm_source   VARCHAR NOT NULL DEFAULT '',
    utm_medium   VARCHAR NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL
);

-- Verified SKAdNetwork postbacks (specs/tracking-protocols.md §8). One row per
-- transaction-id: a postback delivered twice is stored once. Reported only in aggregate.
CREATE TABLE skan_postbacks (
    transaction_id          VARCHAR PRIMARY KEY,
    received_at             TIMESTAMPTZ NOT NULL,
    version                 VARCHAR NOT NULL,
    ad_network_id           VARCHAR NOT NULL,
    source_identifier       VARCHAR NOT NULL,  -- 4.0 source-identifier, or campaign-id
    app_id                  BIGINT NOT NULL,
    source_app_id           BIGINT,
    source_domain           VARCHAR,
    redownload              BOOLEAN,
    fidelity_type           INTEGER,
    did_win                 BOOLEAN,
    postback_sequence_index INTEGER,
    conversion_value        INTEGER,
    coarse_conversion_value VARCHAR,
    payload                 VARCHAR NOT NULL
);
