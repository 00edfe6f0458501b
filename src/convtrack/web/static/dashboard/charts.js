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
  // A dataset without an axis goes on the left one ("y"), never on a second axis it
  // would otherwise be drawn against.
  for (const dataset of config.data.datasets) dataset.yAxisID = dataset.yAxisID || "y";
  options.scales = { y: { position: "left", beginAtZero: true }, ...(options.scales || {}) };
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
