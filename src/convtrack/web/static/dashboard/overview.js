// Overview: conversions, revenue and ROAS over time; conversions by category, drilled down
// through the plan's category hierarchy (purchase → purchase/subscription → …).
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

export async function render(root) {
  const [days, categories, names, attribution] = await Promise.all([
    getJSON("/v1/reports/conversions", { by: "day" }),
    getJSON("/v1/reports/conversions", { by: "category" }),
    getJSON("/v1/reports/conversions", { by: "name" }),
    getJSON("/v1/reports/attribution", { grain: "day" }),
  ]).catch((error) => {
    root.replaceChildren(el("h1", {}, "Overview"), errorText(error));
    throw error;
  });
  const currency = days.currency;
  const dayRows = rowsOf(days);
  const series = byDay(dayRows, attribution, currency);
  const spend = series.spend.reduce((a, b) => a + b, 0);
  const credited = attribution.rows.reduce((a, r) => a + (r.revenue || 0), 0);
  const timeBox = chartBox("overview-time");
  const roasBox = chartBox("overview-roas");
  const cats = categoryView(rowsOf(categories), rowsOf(names), currency);
  root.replaceChildren(
    el("h1", {}, "Overview"),
    el("div", { class: "tiles" },
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
