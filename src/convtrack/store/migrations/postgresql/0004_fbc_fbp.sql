-- Meta browser ids the tag sends with its events (campaign.fbc / campaign.fbp, specs §3.4):
-- _fbc = fb.1.<click ms>.<fbclid>, minted once per fbclid; _fbp = fb.1.<ms>.<random>.
ALTER TABLE events ADD COLUMN fbc text;
ALTER TABLE events ADD COLUMN fbp text;
