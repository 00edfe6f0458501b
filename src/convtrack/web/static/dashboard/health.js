// Tracking health: purpose-built panels for the QA APIs (/v1/qa/health, /anomalies, /alerts,
// /modeled; see health-metrics.js and health-watch.js) for a window chosen on the page (kept in
// the URL hash, #window=24h); an endpoint that answers 404 shows a "not available" panel.
// Below them: what the live debugger's API shows of the latest events.
import { getJSON } from "./api.js";
import { bars, chartBox } from "./charts.js";
import { el, errorText, panel, table, unavailable } from "./dom.js";
import { healthPanels } from "./health-metrics.js";
import { alertsPanel, anomaliesPanel, modeledPanel } from "./health-watch.js";

export const WINDOWS = { "1h": ["last hour", 1], "24h": ["last 24 hours", 24],
  "7d": ["last 7 days", 168] };
let renders = 0;
let latest = 0; // the newest show(): an older one still loading is dropped when it ends

function chosenWindow() {
  const found = new URLSearchParams(location.hash.slice(1)).get("window");
  return Object.hasOwn(WINDOWS, found || "") ? found : "1h";
}

// Each QA endpoint with its parameters for the window, and how its body becomes panels.
function requests(hours) {
  const to = new Date();
  const from = new Date(to.getTime() - hours * 3600000);
  Object.assign(document.body.dataset, { healthFrom: from.toISOString(), healthTo: to.toISOString() });
  return [
    ["Health metrics", "/v1/qa/health", { from: from.toISOString(), to: to.toISOString() },
      healthPanels],
    ["Anomalies", "/v1/qa/anomalies", { hours: Math.max(24, hours), series: 5 },
      anomaliesPanel],
    ["Alerts", "/v1/qa/alerts", {}, alertsPanel],
    ["Modeled conversions", "/v1/qa/modeled", {}, modeledPanel],
  ];
}

// Each panel's nodes; its charts go to `pending`, drawn once the boxes are in the page.
async function qaPanels([title, path, params, build], pending) {
  try {
    const made = build(await getJSON(path, params));
    const [nodes, draws] = Array.isArray(made[0]) ? made : [[made[0]], [made[1]]];
    pending.push(...draws);
    return nodes;
  } catch (error) {
    if (error.status === 404) {
      return [unavailable(title, path, `this server has no ${path} (tracking QA is not built in).`)];
    }
    const section = panel(title, errorText(error));
    section.dataset.endpoint = path;
    return [section];
  }
}

function latestEvents(body, pending) {
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

function windowPicker(current, onChange) {
  const select = el("select", { id: "health-window", onchange: () => onChange(select.value) },
    Object.entries(WINDOWS).map(([key, [label]]) =>
      el("option", { value: key, selected: key === current }, label)));
  return el("div", { class: "controls" }, el("label", {}, "Window", select));
}

async function show(root, key) {
  const token = ++latest;
  const [label, hours] = WINDOWS[key];
  const pending = []; // this render's charts
  const groups = await Promise.all(requests(hours).map((r) => qaPanels(r, pending)));
  let recent;
  try {
    recent = latestEvents(await getJSON("/v1/debug/events", { limit: 500 }), pending);
  } catch (error) {
    recent = panel("Latest events", errorText(error));
  }
  if (token !== latest) return; // a newer window was chosen meanwhile: it renders instead
  root.replaceChildren(el("h1", {}, `Tracking health (${label})`),
    windowPicker(key, (next) => {
      history.replaceState(null, "", `#window=${next}`);
      show(root, next);
    }),
    ...groups.flat(), recent);
  for (const drawChart of pending) if (drawChart) drawChart();
  document.body.dataset.window = key;
  document.body.dataset.renders = String(++renders);
}

export async function render(root) {
  root.replaceChildren(el("h1", {}, "Tracking health"), el("p", { class: "loading" }, "Loading…"));
  await show(root, chosenWindow());
}
