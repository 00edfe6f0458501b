// Pure functions of the browser tag (src/convtrack/web/static/t.js), run by `node --test`
// from tests/web/test_tag_script.py. The tag exports them when loaded as a CommonJS module.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const tag = require(path.join(__dirname, '../../src/convtrack/web/static/t.js'));

const DAY = 864e5;
const none = { clicks: {}, aux: {} };

test('campaign parameters: every click id verbatim, utm and Google aux', () => {
  const found = tag.parseCampaign('?gclid=Cj0KCQ_AbC&ScCid=x1&utm_source=google&utm_medium=cpc&gad_source=1&foo=bar&fbclid=');
  assert.deepEqual(found.clicks, { gclid: 'Cj0KCQ_AbC', ScCid: 'x1' });
  assert.deepEqual(found.aux, { utm_source: 'google', utm_medium: 'cpc', gad_source: '1' });
  for (const id of ['gclid', 'gbraid', 'wbraid', 'dclid', 'fbclid', 'ttclid', 'msclkid',
    'li_fat_id', 'twclid', 'ScCid', 'epik', 'rdt_cid', 'irclickid']) {
    assert.ok(tag.CLICKS[id] > 0, id);
  }
});

test('_fbc is minted once per fbclid and never re-stamped', () => {
  const t0 = 1700000000000;
  let s = tag.land({}, tag.parseCampaign('?fbclid=AbC.dEf'), t0, tag.CLICKS);
  assert.equal(s.fbc, 'fb.1.' + t0 + '.AbC.dEf');
  assert.equal(s.t, t0);
  s = tag.land(s, none, t0 + 5000, tag.CLICKS);
  s = tag.land(s, tag.parseCampaign('?fbclid=AbC.dEf'), t0 + 9000, tag.CLICKS);
  assert.equal(s.fbc, 'fb.1.' + t0 + '.AbC.dEf');
  assert.equal(s.t, t0, 'reloading the landing URL is not a new click');
  s = tag.land(s, tag.parseCampaign('?fbclid=New'), t0 + DAY, tag.CLICKS);
  assert.equal(s.fbc, 'fb.1.' + (t0 + DAY) + '.New');
});

test('a later page without campaign data keeps the UTMs, click ids and click time', () => {
  const t0 = 1700000000000;
  let s = tag.land({}, tag.parseCampaign('?gclid=G1&utm_source=google&utm_medium=cpc'), t0, tag.CLICKS);
  s = tag.land(s, none, t0 + 60000, tag.CLICKS);
  const c = tag.campaignOf(s, t0 + 60000, true);
  assert.deepEqual(c, { gclid: 'G1', utm_source: 'google', utm_medium: 'cpc', click_at: t0 });
});

test('an existing _fbc cookie for the same fbclid is kept', () => {
  const prev = 'fb.1.1600000000000.Same';
  const s = tag.land({}, tag.parseCampaign('?fbclid=Same'), 1700000000000, tag.CLICKS, 1, prev);
  assert.equal(s.fbc, prev);
});

test('_fbp has the fb.1.<ms>.<random> shape', () => {
  assert.match(tag.mintFbp(1700000000000), /^fb\.1\.1700000000000\.\d{1,10}$/);
  assert.equal(tag.mintFbc('x', 5, 2), 'fb.2.5.x');
});

test('a newer click id replaces the old one; other platforms and lifetimes stay', () => {
  const t0 = 1700000000000;
  let s = tag.land({}, tag.parseCampaign('?gclid=old&utm_source=google'), t0, tag.CLICKS);
  s = tag.land(s, tag.parseCampaign('?ttclid=tt&utm_source=tiktok'), t0 + 1000, tag.CLICKS);
  s = tag.land(s, tag.parseCampaign('?gclid=new'), t0 + 2000, tag.CLICKS);
  const c = tag.campaignOf(s, t0 + 3000, true);
  assert.deepEqual(c, { gclid: 'new', ttclid: 'tt', click_at: t0 + 2000 });
  // ttclid lives 28 days, gclid 90
  const later = tag.land(s, none, t0 + 30 * DAY, tag.CLICKS);
  assert.deepEqual(tag.campaignOf(later, t0 + 30 * DAY, true), { gclid: 'new', click_at: t0 + 2000 });
  assert.equal(tag.campaignOf(tag.land(s, none, t0 + 91 * DAY, tag.CLICKS), t0 + 91 * DAY, true), null);
});

test('ad click ids can be left out (consent) while utm data stays', () => {
  const s = tag.land({}, tag.parseCampaign('?gclid=g&utm_campaign=spring'), 10, tag.CLICKS);
  assert.deepEqual(tag.campaignOf(s, 11, false), { utm_campaign: 'spring', click_at: 10 });
});

test('linker values are accepted only within their window', () => {
  const now = 1700000000000;
  const value = tag.linkerValue('0a1b-2c', now);
  assert.equal(tag.readLinker(value, now + 60000, 120000), '0a1b-2c');
  assert.equal(tag.readLinker(value, now + 180000, 120000), null);
  assert.equal(tag.readLinker('bad', now, 120000), null);
  assert.equal(tag.readLinker('<script>.' + now, now, 120000), null);
});

test('conversion fields are lifted to the top level', () => {
  const p = tag.splitProps({ value: '9.5', currency: 'EUR', order_id: 42, event_id: 'e1', email: 'A@x.org', sku: 's' });
  assert.deepEqual(p.top, { value: 9.5, currency: 'EUR', order_id: '42', event_id: 'e1' });
  assert.deepEqual(p.ids, { email: 'A@x.org' });
  assert.deepEqual(p.props, { sku: 's' });
});

test('uuid and backoff', () => {
  assert.match(tag.uuid(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(tag.backoff(0) >= 500 && tag.backoff(0) <= 1000);
  assert.ok(tag.backoff(30) <= 3e5);
});
