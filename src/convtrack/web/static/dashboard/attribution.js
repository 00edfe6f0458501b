// Attribution: by channel or campaign under one model (switchable), every model side by side,
// CPA and ROAS with spend, top converting paths, path length and time-to-convert histograms.
import { getJSON } from "./api.js";
import { bars, chartBox } from "./charts.js";
import { el, errorText, panel, table } from "./dom.js";

const LEVELS = ["channel", "campaign"];
let renders = 0;

function labelsOf(rows) {
  return [...new Set(rows.map((r) => r.label))].sort();
}

function modelView(report, boxes, tables) {
  const rows = report.rows;
  const labels = rows.map((r) => r.label);
  bars(boxes.model, labels, [
    { label: "conversions", data: rows.map((r) => r.conversions) },
    { label: `revenue (${report.currency})`, data: rows.map((r) => r.revenue), yAxisID: "money" },
  ], { scales: { money: { position: "right", beginAtZero: true, grid: { display: false } } } });
  bars(boxes.efficiency, labels, [
    { label: `CPA (${report.currency})`, data: rows.map((r) => r.cpa) },
    { label: "ROAS", data: rows.map((r) => r.roas), yAxisID: "ratio" },
  ], { scales: { ratio: { position: "right", beginAtZero: true, grid: { display: false } } } });
  tables.model.replaceChildren(table([
    { title: report.level, value: (r) => r.label },
    { title: "conversions", num: true, value: (r) => r.conversions },
    { title: `revenue (${report.currency})`, num: true, value: (r) => r.revenue },
    { title: "other currencies", value: (r) => Object.keys(r.revenue_other).length
      ? r.revenue_other : null },
    { title: "spend", num: true, value: (r) => r.spend },
    { title: "CPA", num: true, value: (r) => r.cpa },
    { title: "ROAS", num: true, value: (r) => r.roas },
  ], rows));
  const paths = report.paths;
  bars(boxes.length, paths.length.map((b) => b.touches),
    [{ label: "conversions", data: paths.length.map((b) => b.conversions) }]);
  bars(boxes.days, paths.days_to_convert.map((b) => b.days),
    [{ label: "conversions", data: paths.days_to_convert.map((b) => b.conversions) }]);
  tables.paths.replaceChildren(table([
    { title: "path", value: (p) => p.path.join(" → ") },
    { title: "conversions", num: true, value: (p) => p.conversions },
    { title: "share", num: true, value: (p) => `${Math.round(p.share * 1000) / 10} %` },
    { title: `revenue (${report.currency})`, num: true, value: (p) => p.revenue },
  ], paths.top));
  tables.notes.replaceChildren(...report.notes.map((n) => el("li", {}, n)));
}

function compareView(report, box, holder) {
  const models = report.models.map((m) => m.model);
  const labels = labelsOf(report.rows);
  const value = (model, label) => {
    const row = report.rows.find((r) => r.model === model && r.label === label);
    return row ? row.conversions : 0;
  };
  bars(box, labels, models.map((m) => ({ label: m, data: labels.map((l) => value(m, l)) })));
  holder.replaceChildren(table([
    { title: report.level, value: (l) => l },
    ...models.map((m) => ({ title: m, num: true, value: (l) => value(m, l) })),
  ], labels));
  return models;
}

export async function render(root) {
  const level = el("select", { id: "level" }, LEVELS.map((l) => el("option", { value: l }, l)));
  const model = el("select", { id: "model" });
  const boxes = { model: chartBox("attr-model"), efficiency: chartBox("attr-efficiency"),
    compare: chartBox("attr-compare"), length: chartBox("attr-length"),
    days: chartBox("attr-days") };
  const tables = { model: el("div"), compare: el("div"), paths: el("div"),
    notes: el("ul", { class: "notes" }) };
  const status = el("p", { class: "notes", role: "status" });
  root.replaceChildren(
    el("h1", {}, "Attribution"),
    el("div", { class: "controls" },
      el("label", {}, "level", level), el("label", {}, "model", model), status),
    el("div", { class: "grid" },
      panel("Conversions and revenue by model", boxes.model),
      panel("CPA and ROAS (with spend)", boxes.efficiency)),
    panel("By label", tables.model),
    panel("All models side by side (conversions)", boxes.compare, tables.compare),
    el("div", { class: "grid" },
      panel("Path length (touches before converting)", boxes.length),
      panel("Time to convert", boxes.days)),
    panel("Top converting paths", tables.paths),
    tables.notes,
  );

  async function loadModel() {
    status.textContent = "Loading…";
    try {
      const report = await getJSON("/v1/reports/attribution",
        { model: model.value, by: level.value });
      modelView(report, boxes, tables);
      status.textContent = "";
    } catch (error) {
      status.replaceChildren(errorText(error));
    }
    document.body.dataset.model = model.value;
    document.body.dataset.renders = String(++renders);
  }

  async function loadAll() {
    const compared = await getJSON("/v1/reports/attribution",
      { compare: "true", by: level.value });
    const models = compareView(compared, boxes.compare, tables.compare);
    if (!model.options.length) {
      model.replaceChildren(...models.map((m) => el("option", { value: m }, m)));
      model.value = models.includes("last_non_direct") ? "last_non_direct" : models[0];
    }
    await loadModel();
  }

  model.addEventListener("change", loadModel);
  level.addEventListener("change", () => loadAll().catch((e) => status.replaceChildren(errorText(e))));
  await loadAll().catch((error) => {
    status.replaceChildren(errorText(error));
    throw error;
  });
}
