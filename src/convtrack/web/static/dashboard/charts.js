// Charts through the vendored Chart.js (window.Chart): every label is drawn on the canvas,
// never parsed as HTML. Each chart lives in <div class="chart" id=ID> and can be found with
// Chart.getChart(document.querySelector("#ID canvas")).
const PALETTE = ["#2f5bea", "#f08c00", "#0ca678", "#e03131", "#7048e8", "#1098ad", "#d6336c",
  "#5c940d", "#495057", "#862e9c"];

export function color(i) {
  return PALETTE[i % PALETTE.length];
}

export function chartBox(id) {
  const box = document.createElement("div");
  box.className = "chart";
  box.id = id;
  box.append(document.createElement("canvas"));
  return box;
}

export function draw(box, config) {
  const canvas = box.querySelector("canvas");
  const old = window.Chart.getChart(canvas);
  if (old) old.destroy();
  const options = { responsive: true, maintainAspectRatio: false, animation: false,
    ...(config.options || {}) };
  if (config.type !== "doughnut") {
    // A dataset without an axis goes on the left one ("y"), never on a second axis it
    // would otherwise be drawn against.
    for (const dataset of config.data.datasets) dataset.yAxisID = dataset.yAxisID || "y";
    options.scales = { y: { position: "left", beginAtZero: true }, ...(options.scales || {}) };
  }
  box.dataset.drawn = String(config.data.datasets.some((d) => d.data.some((v) => v)));
  return new window.Chart(canvas, { ...config, options });
}

export function bars(box, labels, datasets, options = {}) {
  const data = {
    labels,
    datasets: datasets.map((d, i) => ({ backgroundColor: color(i), ...d })),
  };
  return draw(box, { type: "bar", data, options });
}

export function lines(box, labels, datasets, options = {}) {
  const data = {
    labels,
    datasets: datasets.map((d, i) => ({ borderColor: color(i), backgroundColor: color(i),
      tension: 0.2, ...d })),
  };
  return draw(box, { type: "line", data, options });
}

export function doughnut(box, labels, data, options = {}) {
  const datasets = [{ label: "conversions", data, backgroundColor: labels.map((_, i) => color(i)) }];
  return draw(box, { type: "doughnut", data: { labels, datasets }, options });
}

// Observed counts against a forecast band: the band is the area between "lower" and "upper"
// (filled), the forecast a dashed line, and the points outside the band drawn large in red
// as their own "anomalies" dataset (null where there is none).
export function band(box, labels, { observed, forecast, lower, upper, anomalies }) {
  const faint = "rgba(47, 91, 234, 0.15)";
  const datasets = [
    { label: "lower", data: lower, borderColor: faint, backgroundColor: faint, pointRadius: 0,
      fill: false, spanGaps: false },
    { label: "upper", data: upper, borderColor: faint, backgroundColor: faint, pointRadius: 0,
      fill: "-1", spanGaps: false },
    { label: "forecast", data: forecast, borderColor: color(0), borderDash: [6, 4],
      pointRadius: 0, fill: false },
    { label: "observed", data: observed, borderColor: color(1), backgroundColor: color(1),
      pointRadius: 2, fill: false },
    { label: "anomalies", data: anomalies, borderColor: color(3), backgroundColor: color(3),
      pointRadius: 6, showLine: false, fill: false },
  ];
  return draw(box, { type: "line", data: { labels, datasets },
    options: { plugins: { legend: { labels: { filter: (item) => item.text !== "lower" } } } } });
}
