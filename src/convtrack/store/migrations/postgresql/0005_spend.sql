-- Ad spend per day, platform, channel, campaign and currency (see docs/spend.md). Missing
-- text keys are '', never NULL, so the primary key matches them: importing a row whose key is
-- stored already replaces that row (an upsert).
CREATE TABLE spend (
    day         date NOT NULL,
    platform    text NOT NULL DEFAULT '',
    channel     text NOT NULL DEFAULT '',
    campaign    text NOT NULL DEFAULT '',
    spend       numeric(18, 6) NOT NULL CHECK (spend >= 0),
    currency    varchar(3) NOT NULL,
    impressions bigint CHECK (impressions >= 0),
    clicks      bigint CHECK (clicks >= 0),
    imported_at timestamptz NOT NULL,
    source      text NOT NULL DEFAULT '',  -- the imported file's name
    PRIMARY KEY (day, platform, channel, campaign, currency)
);
