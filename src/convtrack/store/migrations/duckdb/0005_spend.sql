-- Ad spend per day, platform, channel, campaign and currency (see docs/spend.md), imported
-- from the platforms' exports so reports can show CPA and ROAS. Missing text keys are '',
-- never NULL, so the primary key matches them: importing a row whose key is stored already
-- replaces that row (an upsert), and importing one file twice never counts it twice.
CREATE TABLE spend (
    day         DATE NOT NULL,
    platform    VARCHAR NOT NULL DEFAULT '',
    channel     VARCHAR NOT NULL DEFAULT '',
    campaign    VARCHAR NOT NULL DEFAULT '',
    spend       DECIMAL(18, 6) NOT NULL CHECK (spend >= 0),
    currency    VARCHAR(3) NOT NULL,
    impressions BIGINT CHECK (impressions >= 0),
    clicks      BIGINT CHECK (clicks >= 0),
    imported_at TIMESTAMPTZ NOT NULL,
    source      VARCHAR NOT NULL DEFAULT '',  -- the imported file's name
    PRIMARY KEY (day, platform, channel, campaign, currency)
);
