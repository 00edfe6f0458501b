// Overview: conversions, revenue and ROAS over time; conversions by category, drilled down
// through the plan's category hierarchy (purchase → purchase/subscription → …). A date range
// (UTC days, both included; kept in the URL hash, #from=2024-05-01&to=2024-05-31) applies to
// every request: the APIs take from and to as days with "to" left out, so to + 1 day is sent.
import { getJSON } from "./api.js";
import { bars, chartBox, lines } from "./charts.js";
import { el, errorText, fmt, panel, table, tile } from "./dom.js";

function rowsOf(report) {
  return report.rows.map((r) => Object.fromEntries(report.columns.map((c, i) => [c, r[i]])));
}

function money(rows, currency) {
  return rows.filter((r) => r.currency === currency && r.value !== null)
    .reduce((sum, r) => sum + r.value, 0);
}

export function byDay(days, attribution, currency) {
  const series = new Map();
  for (const r of days) {
    const s = series.get(r.day) || { conversions: 0, revenue: 0, spend: 0, credited: 0 };
    s.conversions += r.count;
    if (r.currency === currency && r.value !== null) s.revenue += r.value;
    series.set(r.day, s);
  }
  for (const r of attribution.rows) {
    if (!r.bucket) continue;
    const s = series.get(r.bucket) || { conversions: 0, revenue: 0, spend: 0, credited: 0 };
    s.spend += r.spend || 0;
    s.credited += r.revenue || 0;
    series.set(r.bucket, s);
  }
  const labels = [...series.keys()].sort();
  const get = (k) => labels.map((d) => Math.round(series.get(d)[k] * 100) / 100);
  const roas = labels.map((d) => {
    const s = series.get(d);
    return s.spend > 0 ? Math.round((s.credited / s.spend) * 10000) / 10000 : null;
  });
  return { labels, conversions: get("conversions"), revenue: get("revenue"), spend: get("spend"),
    roas };
}

function categoryView(categories, names, currency) {
  const box = chartBox("overview-categories");
  const crumbs = el("p", { class: "crumbs" });
  const detail = el("div");
  const wrap = el("div", {}, crumbs, box, detail);
  const totals = new Map();
  for (const r of categories) {
    const t = totals.get(r.category) || { category: r.category, depth: r.depth, count: 0,
      value: 0 };
    t.count += r.count;
    if (r.currency === currency && r.value !== null) t.value += r.value;
    totals.set(r.category, t);
  }
  const childrenOf = (parent) => [...totals.values()].filter((t) => parent === null
    ? t.depth === 1 : t.depth === totals.get(parent).depth + 1 && t.category.startsWith(parent + "/"));

  function show(parent) {
    const kids = childrenOf(parent);
    const chart = bars(box, kids.map((k) => k.category), [
      { label: "conversions", data: kids.map((k) => k.count) },
      { label: `revenue (${currency})`, data: kids.map((k) => Math.round(k.value * 100) / 100),
        yAxisID: "money" },
    ], { scales: { money: { position: "right", beginAtZero: true, grid: { display: false } } },
      onClick: (event, items) => {
        const hit = items[0];
        if (hit && childrenOf(kids[hit.index].category).length) show(kids[hit.index].category);
      } });
    box.dataset.parent = parent || "";
    const trail = [el("button", { type: "button", onclick: () => show(null) }, "All categories")];
    if (parent) {
      const parts = parent.split("/");
      parts.forEach((_, i) => {
        const path = parts.slice(0, i + 1).join("/");
        trail.push(" › ", el("button", { type: "button", onclick: () => show(path) }, parts[i]));
      });
    }
    crumbs.replaceChildren(...trail);
    const own = names.filter((n) => n.category === parent);
    detail.replaceChildren(
      table([
        { title: "category", value: (k) => childrenOf(k.category).length
          ? el("button", { type: "button", class: "drill", onclick: () => show(k.category) },
            k.category) : k.category },
        { title: "conversions", num: true, value: (k) => k.count },
        { title: `revenue (${currency})`, num: true, value: (k) => k.value },
      ], kids),
      own.length ? el("h3", {}, "Conversions defined in this category") : null,
      own.length ? table([
        { title: "conversion", value: (n) => n.conversion },
        { title: "counting", value: (n) => n.counting },
        { title: "currency", value: (n) => n.currency },
        { title: "count", num: true, value: (n) => n.count },
        { title: "value", num: true, value: (n) => n.value },
      ], own) : null,
    );
    return chart;
  }
  return { wrap, show };
}

let renders = 0;
const DAY = 86400000;
const PRESETS = [7, 30, 90];

function isDay(text) {
  return /^\d{4}-\d{2}-\d{2}$/.test(text || "") && !Number.isNaN(Date.parse(text));
}

export function addDays(day, n) {
  return new Date(Date.parse(day) + n * DAY).toISOString().slice(0, 10);
}

// The range as typed: both days included; "" is open-ended. error says what is wrong.
export function checkRange(from, to) {
  if ((from && !isDay(from)) || (to && !isDay(to))) {
    return { from, to, error: "Dates must be days like 2024-05-31." };
  }
  if (from && to && from > to) {
    return { from, to, error: `The start (${from}) is after the end (${to}): pick a start on or before the end.` };
  }
  return { from: from || "", to: to || "" };
}

function rangeFromHash() {
  const q = new URLSearchParams(location.hash.slice(1));
  return checkRange(q.get("from") || "", q.get("to") || "");
}

function apiRange(range) {
  return { from: range.from || null, to: range.to ? addDays(range.to, 1) : null };
}

function rangeForm(range, apply) {
  const from = el("input", { type: "date", id: "range-from", value: range.from || "" });
  const to = el("input", { type: "date", id: "range-to", value: range.to || "" });
  const message = el("p", { class: "message error", id: "range-error", role: "alert" },
    range.error || "");
  const submit = (next) => {
    const checked = checkRange(next.from, next.to);
    message.textContent = checked.error || "";
    if (!checked.error) apply(checked);
  };
  const preset = (days) => {
    const today = new Date().toISOString().slice(0, 10);
    from.value = addDays(today, 1 - days);
    to.value = today;
    submit({ from: from.value, to: to.value });
  };
  return el("form", { class: "controls", id: "overview-range",
    onsubmit: (event) => { event.preventDefault(); submit({ from: from.value, to: to.value }); } },
  el("label", {}, "From", from), el("label", {}, "To (included)", to),
  el("button", { type: "submit" }, "Apply"),
  el("span", { class: "presets" }, PRESETS.map((n) =>
    el("button", { type: "button", dataset: { days: String(n) }, onclick: () => preset(n) },
      `Last ${n} days`)),
  el("button", { type: "button", onclick: () => { from.value = ""; to.value = "";
    submit({ from: "", to: "" }); } }, "All time")),
  message);
}

// The figures of `range` into `root`, unless `current()` says a newer range was chosen while
// they loaded (then this load leaves the page to that one).
async function load(root, range, current) {
  const params = apiRange(range);
  const [days, categories, names, attribution] = await Promise.all([
    getJSON("/v1/reports/conversions", { by: "day", ...params }),
    getJSON("/v1/reports/conversions", { by: "category", ...params }),
    getJSON("/v1/reports/conversions", { by: "name", ...params }),
    getJSON("/v1/reports/attribution", { grain: "day", ...params }),
  ]).catch((error) => {
    if (current()) root.replaceChildren(errorText(error));
    throw error;
  });
  if (!current()) return;
  const currency = days.currency;
  const dayRows = rowsOf(days);
  const series = byDay(dayRows, attribution, currency);
  const spend = series.spend.reduce((a, b) => a + b, 0);
  const credited = attribution.rows.reduce((a, r) => a + (r.revenue || 0), 0);
  const timeBox = chartBox("overview-time");
  const roasBox = chartBox("overview-roas");
  const cats = categoryView(rowsOf(categories), rowsOf(names), currency);
  root.replaceChildren(
    el("div", { class: "tiles", id: "overview-tiles" },
      tile("conversions", fmt(dayRows.reduce((a, r) => a + r.count, 0))),
      tile(`revenue (${currency})`, fmt(money(dayRows, currency))),
      tile(`spend (${currency})`, fmt(spend)),
      tile("ROAS", spend > 0 ? fmt(credited / spend, 2) : "–")),
    el("div", { class: "grid" },
      panel("Conversions and revenue by day", timeBox),
      panel(`ROAS by day (${attribution.models[0].model} model; revenue / spend)`, roasBox)),
    panel("Conversions by category (click a bar or a category to drill down)", cats.wrap),
    attribution.notes.length ? el("p", { class: "notes" }, attribution.notes.join(" · ")) : null,
  );
  lines(timeBox, series.labels, [
    { label: "conversions", data: series.conversions },
    { label: `revenue (${currency})`, data: series.revenue, yAxisID: "money" },
  ], { scales: { money: { position: "right", beginAtZero: true, grid: { display: false } } } });
  lines(roasBox, series.labels, [
    { label: "ROAS", data: series.roas, spanGaps: true },
    { label: `spend (${currency})`, data: series.spend, yAxisID: "money" },
  ], { scales: { money: { position: "right", beginAtZero: true, grid: { display: false } } } });
  cats.show(null);
}

export async function render(root) {
  const content = el("div", { id: "overview-content" });
  const apply = async (range) => {
    const hash = new URLSearchParams(Object.entries(range).filter(([, v]) => v)).toString();
    history.replaceState(null, "", hash ? `#${hash}` : location.pathname);
    await show(range).catch(() => null); // the error is shown in place of the figures
  };
  let latest = 0; // the newest range asked for
  const show = async (range) => {
    const token = ++latest;
    const current = () => token === latest;
    content.replaceChildren(el("p", { class: "loading" }, "Loading…"));
    try {
      await load(content, range, current);
    } finally {
      if (current()) {
        document.body.dataset.range = `${range.from || ""}..${range.to || ""}`;
        document.body.dataset.renders = String(++renders);
      }
    }
  };
  const initial = rangeFromHash();
  root.replaceChildren(el("h1", {}, "Overview"), rangeForm(initial, apply), content);
  if (initial.error) {
    content.replaceChildren();
    document.body.dataset.renders = String(++renders);
    return;
  }
  await show(initial);
}
