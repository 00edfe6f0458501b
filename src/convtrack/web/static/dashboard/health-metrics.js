// The panels of GET /v1/qa/health (src/convtrack/qa/health.py): volume by source, quarantine,
// browser-vs-server match, dedup and per-destination match quality and delivery. Each panel
// returns its section and a function that draws its charts once the section is in the page.
import { bars, chartBox, doughnut, lines } from "./charts.js";
import { el, extraTiles, fmt, panel, pct, shortTime, table, tile, tiles } from "./dom.js";

const ENDPOINT = "/v1/qa/health";
const QUALITY = [["email", "email"], ["phone", "phone"], ["fbc_fbp", "fbc/fbp"],
  ["click_id", "click id"], ["ip_user_agent", "IP + UA"]];

function section(title, ...children) {
  const node = panel(title, ...children);
  node.dataset.endpoint = ENDPOINT;
  return node;
}

// Minutes are grouped into buckets so a day or a week stays readable; the value is still
// events per minute (the bucket's mean), with empty minutes counted as zero.
export function volumeSeries(volume, window) {
  const start = Date.parse(window.from);
  const minutes = Math.max(1, Math.round((Date.parse(window.to) - start) / 60000));
  const size = minutes <= 120 ? 1 : minutes <= 48 * 60 ? 15 : 60;
  const count = Math.ceil(minutes / size);
  const labels = Array.from({ length: count },
    (_, i) => shortTime(new Date(start + i * size * 60000).toISOString()));
  const sources = Object.keys(volume.by_source);
  const data = new Map(sources.map((s) => [s, new Array(count).fill(0)]));
  for (const r of volume.per_minute) {
    const i = Math.floor((Date.parse(r.minute) - start) / (size * 60000));
    if (i >= 0 && i < count && data.has(r.source)) data.get(r.source)[i] += r.events / size;
  }
  const datasets = sources.map((s) => ({ label: s,
    data: data.get(s).map((v) => Math.round(v * 1000) / 1000) }));
  return { labels, datasets, size };
}

function volumePanel(volume, window) {
  const box = chartBox("health-volume");
  const { labels, datasets, size } = volumeSeries(volume, window);
  const perSource = Object.entries(volume.by_source).map(([source, s]) =>
    tile(source, `${fmt(s.events)} (${fmt(s.per_minute)}/min)`));
  const node = section("Events per minute by source",
    el("div", { class: "tiles", id: "health-volume-tiles" }, tile("all sources", fmt(volume.events)),
      ...perSource),
    box,
    el("p", { class: "hint" }, size === 1 ? "One point a minute."
      : `Each point is the mean of ${size} minutes.`));
  return [node, () => lines(box, labels, datasets, { plugins: { legend: { position: "bottom" } } })];
}

function quarantinePanel(q) {
  const box = chartBox("health-reasons");
  const reasons = q.top_reasons;
  const label = (r) => `${r.path || ""} ${r.reason || ""}`.trim();
  const node = section("Quarantine",
    tiles(tile("quarantine rate", pct(q.rate, 2)), tile("quarantined", fmt(q.quarantined))),
    reasons.length ? box : el("p", { class: "hint" }, "No event failed validation."),
    el("h3", {}, "Top reasons"),
    table([{ title: "path", value: (r) => r.path }, { title: "reason", value: (r) => r.reason },
      { title: "events", num: true, value: (r) => r.count }], reasons));
  node.id = "health-quarantine";
  return [node, () => reasons.length && bars(box, reasons.map(label),
    [{ label: "events", data: reasons.map((r) => r.count) }], { indexAxis: "y",
      scales: { y: { beginAtZero: true }, x: { beginAtZero: true } } })];
}

function matchPanel(c) {
  const box = chartBox("health-match");
  const parts = [["both", "both"], ["browser_only", "browser only"],
    ["server_only", "server only"], ["other", "other"]];
  const known = ["conversions", "match_rate", ...parts.map((p) => p[0])];
  const node = section("Browser vs server conversions",
    tiles(tile("match rate", pct(c.match_rate)), tile("conversions", fmt(c.conversions)),
      ...extraTiles(c, known)),
    c.conversions ? box : el("p", { class: "hint" }, "No conversion in this window."),
    table([{ title: "seen by", value: (p) => p[1] },
      { title: "conversions", num: true, value: (p) => c[p[0]] }], parts));
  return [node, () => c.conversions && doughnut(box, parts.map((p) => p[1]),
    parts.map((p) => c[p[0]]), { plugins: { legend: { position: "right" } } })];
}

function dedupPanel(d) {
  const known = ["orders", "order_duplicates", "order_duplicate_rate"];
  const node = section("Deduplication",
    tiles(tile("orders", fmt(d.orders)), tile("order ids under > 1 event id", fmt(d.order_duplicates)),
      tile("order duplicate rate", pct(d.order_duplicate_rate)), ...extraTiles(d, known)),
    d.since_start ? null : el("p", { class: "hint" },
      "Copies received since start: not known (no group-commit writer)."));
  node.id = "health-dedup";
  return [node, () => null];
}

function destinationsPanel(destinations) {
  const names = Object.keys(destinations);
  const box = chartBox("health-quality");
  const rows = names.map((name) => ({ name, ...destinations[name] }));
  const delivery = (r, f) => (r.delivery ? f(r.delivery) : null);
  const quality = rows.filter((r) => r.match_quality);
  const node = section("Destinations",
    quality.length ? box : el("p", { class: "hint" }, "No event queued for a destination in this window."),
    el("h3", {}, "Delivery"),
    table([
      { title: "destination", value: (r) => r.name },
      { title: "attempts", num: true, value: (r) => delivery(r, (d) => d.attempts) },
      { title: "success", num: true, value: (r) => delivery(r, (d) => pct(d.success_rate)) },
      { title: "p50 ms", num: true, value: (r) => delivery(r, (d) => d.latency_ms.p50) },
      { title: "p95 ms", num: true, value: (r) => delivery(r, (d) => d.latency_ms.p95) },
      { title: "dead (window)", num: true, value: (r) => delivery(r, (d) => d.dead_letters) },
      { title: "dead (all)", num: true, value: (r) => r.dead_letters_total },
      { title: "pending", num: true, value: (r) => r.pending },
      { title: "paused", value: (r) => (r.paused_at ? `since ${r.paused_at}: ${r.paused_reason || ""}`
        : "no") },
    ], rows, (r) => (r.paused_at ? "paused" : "")));
  node.id = "health-destinations";
  return [node, () => quality.length && bars(box, quality.map((r) => r.name), [
    ...QUALITY.map(([key, label]) => ({ label,
      data: quality.map((r) => r.match_quality.shares[key] ?? 0) })),
    { label: "score", data: quality.map((r) => r.match_quality.score) },
  ], { scales: { y: { beginAtZero: true, max: 1 } } })];
}

// Every panel of the health figures: [sections, draw functions].
export function healthPanels(body) {
  const made = [volumePanel(body.volume, body.window), quarantinePanel(body.quarantine),
    matchPanel(body.conversions), dedupPanel(body.dedup), destinationsPanel(body.destinations)];
  return [made.map((m) => m[0]), made.map((m) => m[1])];
}
