// The panels of GET /v1/qa/anomalies, /v1/qa/alerts and /v1/qa/modeled: hourly counts
// against their forecast band, the anomaly list, alerts, and modeled conversions.
import { band, chartBox } from "./charts.js";
import { el, fmt, panel, shortTime, table, tile, tiles } from "./dom.js";

function section(title, endpoint, ...children) {
  const node = panel(title, ...children);
  node.dataset.endpoint = endpoint;
  return node;
}

export function bandSeries(series, anomalies) {
  const flagged = new Set(anomalies.filter((a) => a.source === series.source
    && a.event_name === series.event_name).map((a) => a.hour));
  const pick = (k) => series.points.map((p) => p[k]);
  return {
    labels: series.points.map((p) => shortTime(p.hour)),
    observed: pick("observed"), forecast: pick("forecast"), lower: pick("lower"),
    upper: pick("upper"),
    anomalies: series.points.map((p) => (flagged.has(p.hour) ? p.observed : null)),
  };
}

export function anomaliesPanel(body) {
  const box = chartBox("health-band");
  const series = body.series || [];
  const name = (s) => `${s.source} / ${s.event_name}` + (s.anomalies ? ` (${s.anomalies} anomalies)` : "");
  const picker = el("select", { id: "band-series" },
    series.map((s, i) => el("option", { value: String(i) }, name(s))));
  const show = () => {
    const s = series[Number(picker.value)];
    box.dataset.series = `${s.source}/${s.event_name}`;
    const b = bandSeries(s, body.anomalies);
    band(box, b.labels, b);
  };
  picker.addEventListener("change", show);
  const found = body.anomalies;
  const node = section("Volume anomalies", "/v1/qa/anomalies",
    el("p", { class: "hint" }, `Hourly counts from ${body.checked.from} to ${body.checked.to} ` +
      `against the median of the same hour in the ${body.band.weeks} weeks before ` +
      `(band: ± ${body.band.z} robust standard deviations).`),
    tiles(tile("anomalies", fmt(found.length)),
      tile("drops", fmt(found.filter((a) => a.kind === "drop").length)),
      tile("spikes", fmt(found.filter((a) => a.kind === "spike").length))),
    series.length ? el("div", { class: "controls" },
      el("label", {}, found.length ? "Series with anomalies" : "Busiest series (no anomaly)", picker))
      : el("p", { class: "hint" }, "No series has enough hourly volume to chart."),
    series.length ? box : null,
    el("h3", {}, "Anomalies"),
    found.length ? table([
      { title: "hour (UTC)", value: (a) => a.hour },
      { title: "kind", value: (a) => a.kind, cls: (a) => `kind-${a.kind}` },
      { title: "source", value: (a) => a.source },
      { title: "event", value: (a) => a.event_name },
      { title: "count", num: true, value: (a) => a.count },
      { title: "expected", num: true, value: (a) => a.expected },
      { title: "band", value: (a) => `${fmt(a.lower)} – ${fmt(a.upper)}` },
    ], found) : el("p", {}, "None: every hour was inside its band."));
  node.id = "health-anomalies";
  return [node, () => series.length && show()];
}

export function alertsPanel(body) {
  const open = (a) => a.cleared_at === null || a.cleared_at === undefined;
  const node = section("Alerts", "/v1/qa/alerts",
    tiles(tile("active conditions", fmt(body.active.length)),
      tile("recent alerts", fmt(body.alerts.length))),
    body.alerts.length ? table([
      { title: "raised (UTC)", value: (a) => a.raised_at },
      { title: "kind", value: (a) => a.kind },
      { title: "message", value: (a) => a.message },
      { title: "active", value: (a) => (open(a) ? "yes" : `cleared ${a.cleared_at}`) },
      { title: "webhook", value: (a) => a.webhook.replaceAll("_", " ") },
    ], body.alerts, (a) => (open(a) ? "active" : ""))
      : el("p", {}, "No alert raised (alerts are kept for 30 days after they clear)."));
  node.id = "health-alerts";
  return [node, () => null];
}

export function modeledPanel(body) {
  const interval = (i) => `${fmt(i.lower)} – ${fmt(i.upper)}`;
  const observed = body.observed.consented + body.observed.pseudonymous;
  const node = section("Modeled conversions", "/v1/qa/modeled",
    el("p", { class: "hint" }, `From ${body.window.from} to ${body.window.to}: conversions ` +
      "consent denial hid from attribution, estimated from consented visitors."),
    tiles(tile("observed conversions", fmt(observed)),
      tile("of which consented", fmt(body.observed.consented)),
      tile("modeled (hidden)", fmt(body.modeled)),
      tile("95 % interval", interval(body.interval95)),
      tile("observed + modeled", fmt(Math.round((observed + body.modeled) * 10) / 10))),
    body.channels.length ? table([
      { title: "channel", value: (c) => c.channel },
      { title: "consented visits", num: true, value: (c) => c.consented_visits },
      { title: "consented conversions", num: true, value: (c) => c.consented_conversions },
      { title: "consented-out visits", num: true, value: (c) => c.consented_out_visits },
      { title: "modeled", num: true, value: (c) => c.modeled },
      { title: "95 % interval", value: (c) => interval(c.interval95) },
    ], body.channels) : el("p", {}, "No visit in this window."));
  node.id = "health-modeled";
  return [node, () => null];
}
