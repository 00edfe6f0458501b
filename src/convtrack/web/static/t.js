/* convtrack browser tag: plain JavaScript (ES2017), no dependencies. Reference: docs/tag.md */
((root, doc) => {
  'use strict';
  const DAY = 864e5, MAX = 20, LINKER = '_ct';
  const CLICKS = {
    gclid: 90, gbraid: 90, wbraid: 90, dclid: 90, fbclid: 90, ttclid: 28, msclkid: 90,
    li_fat_id: 30, twclid: 30, ScCid: 28, epik: 365, rdt_cid: 28, irclickid: 30
  };
  const AUX = ['gclsrc', 'gad_source', 'gad_campaignid'].concat(('source medium campaign term ' +
    'content id source_platform creative_format marketing_tactic').split(' ').map(x => 'utm_' + x));
  const CONSENT = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization'];
  const TOP = ['currency', 'order_id', 'event_id'];

  // pure helpers (node --test tests/web/tag.test.js)
  const uuid = () => {
    const c = root.crypto;
    if (c.randomUUID) return c.randomUUID();  // secure contexts only
    const b = c.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    const h = Array.from(b, x => (x + 256).toString(16).slice(1)).join('');
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join('-');
  };
  const parseCampaign = search => {
    const out = { clicks: {}, aux: {} };
    new URLSearchParams(search).forEach((v, k) => {
      if (!v) return;
      if (CLICKS[k]) out.clicks[k] = v.slice(0, 512);  // verbatim: click ids are case-sensitive
      else if (AUX.includes(k)) out.aux[k] = v.slice(0, 256);
    });
    return out;
  };
  const fbclidOf = fbc => { const p = (fbc || '').split('.'); return p.length > 3 ? p[3] : null; };
  const mintFbc = (fbclid, ms, i) => 'fb.' + (i || 1) + '.' + ms + '.' + fbclid;
  const mintFbp = (ms, i) => 'fb.' + (i || 1) + '.' + ms + '.' + Math.floor(Math.random() * 2147483647);
  // Landing → state: a new id replaces its platform's; _fbc minted once per new fbclid.
  const land = (state, found, now, lifetimes, fbcIndex, prevFbc) => {
    const s = state || {}, ids = s.ids || {}, keys = Object.keys(found.clicks);
    for (const k in ids) if (ids[k].x <= now) delete ids[k];
    if (!ids.fbclid) delete s.fbc;
    // Only a URL with campaign data is a new landing; later pages keep what was stored.
    const tagged = keys.length > 0 || Object.keys(found.aux).length > 0;
    const same = JSON.stringify(found.aux) === JSON.stringify(s.aux || {}) &&
      keys.every(k => ids[k] && ids[k].v === found.clicks[k]);
    if (tagged && !same) {
      for (const k of keys) {
        if (ids[k] && ids[k].v === found.clicks[k]) continue;
        ids[k] = { v: found.clicks[k], t: now, x: now + (lifetimes[k] || 90) * DAY };
        if (k === 'fbclid') s.fbc = fbclidOf(prevFbc) === ids[k].v ? prevFbc : mintFbc(ids[k].v, now, fbcIndex);
      }
      s.aux = found.aux;
      s.t = now;
    }
    s.ids = ids;
    return s;
  };
  const campaignOf = (s, now, withIds) => {
    const c = {}, ids = s.ids || {};
    if (withIds) for (const k in ids) if (ids[k].x > now) c[k] = ids[k].v;
    Object.assign(c, s.aux);
    if (!Object.keys(c).length) return null;
    c.click_at = s.t;
    return c;
  };
  const linkerValue = (aid, now) => aid + '.' + now;
  const readLinker = (value, now, maxAge) => {
    const i = (value || '').lastIndexOf('.'), ts = +value.slice(i + 1), aid = value.slice(0, i);
    return i > 0 && ts && Math.abs(now - ts) <= maxAge && /^[\w-]{1,128}$/.test(aid) ? aid : null;
  };
  const splitProps = props => {
    const top = {}, rest = {}, ids = {};
    for (const k in props || {}) {
      const v = props[k];
      if (k === 'value') top.value = +v;
      else if (TOP.includes(k)) top[k] = String(v);
      else if (k === 'email' || k === 'phone') ids[k] = String(v);
      else rest[k] = v;
    }
    return { top, props: rest, ids };
  };
  const backoff = n => Math.min(3e5, 1e3 * 2 ** n) * (0.5 + Math.random() / 2);
  const pure = { uuid, parseCampaign, land, mintFbc, mintFbp, fbclidOf, campaignOf, linkerValue,
    readLinker, splitProps, backoff, CLICKS };
  if (typeof module === 'object' && module.exports) { module.exports = pure; return; }

  const loc = root.location, nav = root.navigator, script = doc.currentScript;
  let ls = root.localStorage;
  try { ls.setItem('ct_t', '1'); ls.removeItem('ct_t'); } catch (e) { ls = null; }
  const get = k => { try { return JSON.parse(ls.getItem(k)); } catch (e) { return null; } };
  const put = (k, v) => { try { v == null ? ls.removeItem(k) : ls.setItem(k, JSON.stringify(v)); } catch (e) {} };
  const cookie = name => {
    const m = doc.cookie.match('(?:^|; )' + name + '=([^;]*)');
    return m ? decodeURIComponent(m[1]) : null;
  };
  const setCookie = (name, value, days) => {
    doc.cookie = name + '=' + (value || '') + '; Max-Age=' + (value ? days * 86400 : 0) +
      '; Path=/; SameSite=Lax' + (opt.cookieDomain ? '; Domain=' + opt.cookieDomain : '') +
      (loc.protocol === 'https:' ? '; Secure' : '');
  };

  let opt = {}, key = null, consent = {}, queue = [], timer = 0, retryAt = 0, attempt = 0;
  let aid = null, uid = null, st = {}, landing = null, landed = false, lastUrl = null, busy = false;
  const pageAid = uuid(), gpc = nav.globalPrivacyControl === true;
  const granted = k => consent[k] !== 'denied';
  const adsOk = () => granted('ad_storage') && !(gpc && opt.gpc !== 'flag');
  const persistent = () => granted('analytics_storage');
  const endpoint = () => opt.endpoint + '/v1/events?k=' + encodeURIComponent(key);

  function init(writeKey, o) {
    if (key) return;
    key = writeKey;
    o = o || {};
    const src = script ? script.src : '';
    opt = Object.assign({
      endpoint: src ? new URL('.', src).href : loc.origin, cookieDomain: '', linker: [],
      linkerMaxAge: 12e4, deniedAds: 'drop', gpc: 'deny-ads', flushMs: 1e3, autoPage: true,
      maxQueue: 100
    }, o);
    opt.endpoint = opt.endpoint.replace(/\/$/, '');
    opt.lifetimes = Object.assign({}, CLICKS, o.clickLifetimes);
    consent = Object.assign({}, o.consent, get('ct_cs'));
    landing = parseCampaign(loc.search);
    const link = new URLSearchParams(loc.search).get(LINKER);
    if (link != null) {
      const linked = readLinker(link, Date.now(), opt.linkerMaxAge);
      if (linked && persistent()) put('ct_aid', linked);
      const u = new URL(loc.href);
      u.searchParams.delete(LINKER);
      history.replaceState(history.state, '', u.href);
    }
    applyConsent();
    for (const m of ['pushState', 'replaceState']) {
      const orig = history[m];
      history[m] = function () { const r = orig.apply(this, arguments); page(); return r; };
    }
    root.addEventListener('popstate', () => page());
    doc.addEventListener('click', decorate, true);
    root.addEventListener('pagehide', () => flush(true));
    doc.addEventListener('visibilitychange', () => doc.visibilityState === 'hidden' && flush(true));
    if ((get('ct_q') || []).length) schedule(backoff(0));
    if (opt.autoPage) page();
  }

  // analytics_storage → anonymous/user id; ad_storage → click ids, _fbc, _fbp (docs/tag.md)
  function applyConsent() {
    if (persistent()) {
      aid = aid || get('ct_aid');
      uid = uid || get('ct_uid');
    } else {
      put('ct_aid'); put('ct_uid'); aid = null;
    }
    const now = Date.now();
    if (adsOk()) {
      const idx = opt.cookieDomain ? opt.cookieDomain.split('.').length - 1 : 1;
      st = land(get('ct_c') || st, landed ? { clicks: {}, aux: {} } : landing, now, opt.lifetimes, idx, cookie('_fbc'));
      landed = true;
      st.fbp = st.fbp || cookie('_fbp') || mintFbp(now, idx);
      put('ct_c', st);
      if (st.fbc) setCookie('_fbc', st.fbc, 90);
      setCookie('_fbp', st.fbp, 90);
    } else {
      put('ct_c'); st = {};
      if (cookie('_fbc') || cookie('_fbp')) { setCookie('_fbc'); setCookie('_fbp'); }
    }
  }

  function campaign(now) {
    if (adsOk()) {
      const c = campaignOf(st, now, true) || {};
      if (st.fbc) c.fbc = st.fbc;
      c.fbp = st.fbp;
      return c;
    }
    // Ads denied: nothing stored; deniedAds 'url' still sends this landing URL's click ids.
    return campaignOf(land({}, landing, st.t || now, opt.lifetimes), now, opt.deniedAds === 'url');
  }

  function send(type, name, f) {
    if (!key) return null;
    const now = Date.now(), keep = persistent(), cs = {};
    const e = {
      type, event_id: String(f.event_id || uuid()), timestamp: now,
      anonymous_id: keep ? aid || undefined : pageAid,
      user_id: keep && uid || undefined, event_name: name ? String(name).slice(0, 128) : undefined,
      context: { url: loc.href.slice(0, 2048), title: doc.title.slice(0, 512), locale: (nav.language || '').slice(0, 35) }
    };
    if (type === 'page') e.context.referrer = (lastUrl || doc.referrer).slice(0, 2048) || undefined;
    for (const k of CONSENT) if (consent[k]) cs[k] = consent[k];
    if (gpc) cs.gpc = true;
    if (Object.keys(cs).length) e.consent = cs;
    const c = campaign(now);
    if (c) e.campaign = c;
    for (const k of ['value', 'currency', 'order_id', 'user_id', 'identifiers']) if (f[k] != null) e[k] = f[k];
    if (f.properties && Object.keys(f.properties).length) e.properties = f.properties;
    queue.push(e);
    if (queue.length >= MAX || (!aid && keep)) flush(); else schedule(opt.flushMs);
    return e.event_id;
  }

  function schedule(ms) {
    if (!timer) timer = setTimeout(() => { timer = 0; flush(); }, ms);
  }
  const stash = events => put('ct_q', (get('ct_q') || []).concat(events).slice(-opt.maxQueue));
  const body = events => {
    for (const e of events) if (!e.anonymous_id && aid && persistent()) e.anonymous_id = aid;
    return JSON.stringify({ events, sent_at: Date.now() });
  };

  function flush(unloading) {
    clearTimeout(timer);
    timer = 0;
    const retry = Date.now() >= retryAt ? get('ct_q') || [] : [];
    if (retry.length) put('ct_q');
    const events = retry.concat(queue.splice(0));
    if (!events.length) return;
    if (unloading || busy) {
      for (let i = 0; i < events.length; i += MAX) {
        const part = events.slice(i, i + MAX);
        if (!(unloading && nav.sendBeacon && nav.sendBeacon(endpoint(), body(part)))) stash(part);
      }
      if (!unloading) schedule(opt.flushMs);
      return;
    }
    busy = true;
    const batch = events.slice(0, MAX);
    if (events.length > MAX) stash(events.slice(MAX));
    // text/plain: no CORS preflight
    fetch(endpoint(), {
      method: 'POST', body: body(batch), keepalive: true, credentials: 'include',
      headers: { 'content-type': 'text/plain' }
    }).then(r => {
      if (r.status >= 500 || r.status === 429 || r.status === 408) throw r;
      attempt = retryAt = 0;  // other 4xx: no retry
      return r.json().then(learn, () => {});
    }).catch(() => {
      stash(batch);
      retryAt = Date.now() + backoff(attempt++);
    }).then(() => {
      busy = false;
      if (queue.length || (get('ct_q') || []).length) schedule(Math.max(opt.flushMs, retryAt - Date.now()));
    });
  }

  function learn(res) {
    const id = res && res.anonymous_id;
    if (id && persistent()) { aid = id; put('ct_aid', id); }
  }

  function page(props, force) {
    if (loc.href === lastUrl && !force) return null;
    const id = send('page', null, { properties: props });
    lastUrl = loc.href;
    return id;
  }

  function decorate(ev) {
    const a = ev.target && ev.target.closest && ev.target.closest('a[href]');
    if (!a || !aid || a.hostname === loc.hostname) return;
    const h = a.hostname;
    if (!opt.linker.some(d => h === d || h.endsWith('.' + d))) return;
    const u = new URL(a.href);
    u.searchParams.set(LINKER, linkerValue(aid, Date.now()));
    a.href = u.href;
  }

  const api = {
    init,
    page: props => page(props, true),
    track: (name, props) => send('track', name, { properties: props }),
    conversion: (name, props) => {
      const p = splitProps(props);
      p.top.properties = p.props;
      if (Object.keys(p.ids).length) p.top.identifiers = p.ids;
      return send('conversion', name, p.top);
    },
    identify: (userId, traits) => {
      const p = splitProps(traits);
      if (userId) { uid = String(userId); if (persistent()) put('ct_uid', uid); }
      return send('identify', null, {
        identifiers: Object.keys(p.ids).length ? p.ids : null, properties: p.props, user_id: uid
      });
    },
    consent: update => {
      for (const k of CONSENT) if (update && /^(granted|denied)$/.test(update[k])) consent[k] = update[k];
      put('ct_cs', consent);
      if (key) applyConsent();
    },
    flush: () => flush()
  };

  function convtrack(cmd, ...args) {
    const f = api[cmd];
    if (!f) return console.warn('convtrack: unknown command', cmd);
    const r = f(...args);
    if (typeof r === 'string') convtrack.lastEventId = r;
    return r;
  }
  const pending = Array.from((root.convtrack && root.convtrack.q) || [], a => Array.from(a));
  root.convtrack = convtrack;
  for (const c of ['consent', 'init']) for (const a of pending) if (a[0] === c) convtrack(...a);
  for (const a of pending) if (a[0] !== 'consent' && a[0] !== 'init') convtrack(...a);
})(typeof window === 'object' ? window : globalThis, typeof document === 'object' ? document : null);
