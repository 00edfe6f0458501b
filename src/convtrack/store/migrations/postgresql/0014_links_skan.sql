-- Click links (docs/mobile.md): `convtrack links create` stores one; GET /c/<link_id> records a
-- click and redirects to `destination`, the only place it ever redirects to.
CREATE TABLE links (
    link_id      text PRIMARY KEY,
    destination  text NOT NULL,
    platform     text NOT NULL CHECK (platform IN ('web', 'ios', 'android')),
    utm_campaign text NOT NULL,
    utm_source   text NOT NULL DEFAULT '',
    utm_medium   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL
);

-- Verified SKAdNetwork postbacks (specs/tracking-protocols.md §8). One row per
-- transaction-id: a postback delivered twice is stored once. Reported only in aggregate.
CREATE TABLE skan_postbacks (
    transaction_id          text PRIMARY KEY,
    received_at             timestamptz NOT NULL,
    version                 text NOT NULL,
    ad_network_id           text NOT NULL,
    source_identifier       text NOT NULL,  -- 4.0 source-identifier, or campaign-id
    app_id                  bigint NOT NULL,
    source_app_id           bigint,
    source_domain           text,
    redownload              boolean,
    fidelity_type           integer,
    did_win                 boolean,
    postback_sequence_index integer,
    conversion_value        integer,
    coarse_conversion_value text,
    payload                 jsonb NOT NULL
);
