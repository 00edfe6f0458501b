// Tracking health: the QA APIs (/v1/qa/…) where this server has them, each rendered as
// figures, tables and charts; an endpoint that answers 404 shows a "not available" panel.
// Below them: what the live debugger's API shows of the latest events.
import { getJSON } from "./api.js";
import { bars, chartBox } from "./charts.js";
import { el, errorText, fmt, panel, table, unavailable } from "./dom.js";

export const QA_ENDPOINTS = [
  ["Health metrics", "/v1/qa/health"],
  ["Anomalies", "/v1/qa/anomalies"],
  ["Alerts", "/v1/qa/alerts"],
  ["Modeled conversions", "/v1/qa/modeled"],
];
let charts = 0;
const pending = []; // charts to draw once their boxes are in the page

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-");
}

function isRecordList(value) {
  return Array.isArray(value) && value.length > 0
    && value.every((v) => v !== null && typeof v === "object" && !Array.isArray(v));
}

function listView(key, items) {
  const columns = [...new Set(items.flatMap((i) => Object.keys(i)))];
  const nodes = [el("h3", {}, key), table(columns.map((c) => ({
    title: c, num: items.some((i) => typeof i[c] === "number"), value: (i) => i[c],
  })), items)];
  const labelKey = columns.find((c) => items.every((i) => typeof i[c] === "string"));
  const numbers = columns.filter((c) => items.every((i) => typeof i[c] === "number"));
  if (labelKey && numbers.length) {
    const box = chartBox(`health-chart-${++charts}`);
    box.dataset.source = key;
    nodes.unshift(box);
    pending.push(() => bars(box, items.map((i) => i[labelKey]),
      numbers.slice(0, 3).map((n) => ({ label: n, data: items.map((i) => i[n]) }))));
  }
  return nodes;
}

export function jsonView(body, depth = 0) {
  if (body === null || typeof body !== "object") return [el("p", {}, fmt(body))];
  if (Array.isArray(body)) {
    return isRecordList(body) ? listView("items", body)
      : [el("p", {}, body.length ? fmt(body) : "none")];
  }
  const scalars = Object.entries(body).filter(([, v]) => v === null || typeof v !== "object"
    || (Array.isArray(v) && !isRecordList(v)));
  const nodes = [];
  if (scalars.length) {
    nodes.push(el("dl", {}, scalars.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, fmt(v))])));
  }
  for (const [key, value] of Object.entries(body)) {
    if (isRecordList(value)) nodes.push(...listView(key, value));
    else if (value && typeof value === "object" && !Array.isArray(value)) {
      nodes.push(el("h3", {}, key),
        ...(depth < 2 ? jsonView(value, depth + 1) : [el("pre", {}, JSON.stringify(value))]));
    }
  }
  return nodes;
}

async function qaPanel(title, path) {
  try {
    const body = await getJSON(path);
    const section = panel(title, ...jsonView(body));
    section.dataset.endpoint = path;
    return section;
  } catch (error) {
    if (error.status === 404) {
      return unavailable(title, path, `this server has no ${path} (tracking QA is not built in).`);
    }
    const section = panel(title, errorText(error));
    section.dataset.endpoint = path;
    return section;
  }
}

function latestEvents(body) {
  const events = body.events;
  const bySource = new Map();
  const reasons = new Map();
  for (const e of events) {
    const s = bySource.get(e.source) || { accepted: 0, quarantined: 0 };
    s[e.status] += 1;
    bySource.set(e.source, s);
    for (const r of e.validation.reasons) {
      const text = `${r.path || ""} ${r.reason || ""}`.trim();
      reasons.set(text, (reasons.get(text) || 0) + 1);
    }
  }
  const sources = [...bySource.keys()].sort();
  const box = chartBox("health-sources");
  const bad = events.filter((e) => e.status === "quarantined").length;
  const top = [...reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10);
  const section = panel(`Latest ${events.length} events by source`,
    el("p", {}, `quarantined: ${bad} of ${events.length}` +
      (events.length ? ` (${Math.round((bad / events.length) * 1000) / 10} %)` : "")),
    box,
    el("h3", {}, "Top quarantine reasons"),
    table([{ title: "reason", value: (r) => r[0] }, { title: "events", num: true,
      value: (r) => r[1] }], top));
  pending.push(() => bars(box, sources, [
    { label: "accepted", data: sources.map((s) => bySource.get(s).accepted) },
    { label: "quarantined", data: sources.map((s) => bySource.get(s).quarantined) },
  ], { scales: { x: { stacked: true }, y: { stacked: true } } }));
  return section;
}

export async function render(root) {
  root.replaceChildren(el("h1", {}, "Tracking health"), el("p", { class: "loading" }, "Loading…"));
  const panels = await Promise.all(QA_ENDPOINTS.map(([t, p]) => qaPanel(t, p)));
  let recent;
  try {
    recent = latestEvents(await getJSON("/v1/debug/events", { limit: 500 }));
  } catch (error) {
    recent = panel("Latest events", errorText(error));
  }
  root.replaceChildren(el("h1", {}, "Tracking health"), ...panels, recent);
  for (const drawChart of pending.splice(0)) drawChart();
}
