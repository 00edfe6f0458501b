// Building the page from data without ever parsing data as HTML: text goes in textContent.

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function panel(title, ...children) {
  return el("section", { class: "panel" }, el("h2", {}, title), ...children);
}

export function unavailable(title, path, why) {
  return el(
    "section",
    { class: "panel unavailable", dataset: { endpoint: path } },
    el("h2", {}, title),
    el("p", {}, `Not available: ${why}`),
  );
}

export function tile(label, value) {
  return el("div", { class: "tile" }, el("div", { class: "label" }, label),
    el("div", { class: "value" }, value));
}

export function table(columns, rows, rowClass = () => "") {
  const head = el("tr", {}, columns.map((c) => el("th", { class: c.num ? "num" : "" }, c.title)));
  const body = rows.map((row) =>
    el("tr", { class: rowClass(row) },
      columns.map((c) => {
        const cell = c.value(row);
        return el("td", { class: c.num ? "num" : c.cls ? c.cls(row) : "" },
          cell instanceof Node ? cell : fmt(cell));
      })),
  );
  return el("table", {}, el("thead", {}, head), el("tbody", {}, body));
}

export function fmt(value, digits = 2) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") {
    return Number.isInteger(value) ? value.toLocaleString("en-US")
      : value.toLocaleString("en-US", { maximumFractionDigits: digits });
  }
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function errorText(error) {
  return el("p", { class: "error" }, `Could not load: ${error.message}`);
}

export function pct(share, digits = 1) {
  if (share === null || share === undefined) return "–";
  return `${(share * 100).toLocaleString("en-US", { maximumFractionDigits: digits })} %`;
}

// "2026-03-02T09:00:00Z" → "03-02 09:00" (UTC, as the APIs count).
export function shortTime(isoText) {
  return String(isoText).slice(5, 16).replace("T", " ");
}

export function tiles(...children) {
  return el("div", { class: "tiles" }, ...children);
}

// Keys an API may add later: numbers and flat objects as tiles (a "…rate" as a percentage),
// so a new figure shows up without a new release of the page.
export function extraTiles(body, known) {
  const out = [];
  const show = (label, key, value) => {
    if (typeof value === "number") out.push(tile(label, /rate$/.test(key) ? pct(value) : fmt(value)));
  };
  for (const [key, value] of Object.entries(body || {})) {
    if (known.includes(key)) continue;
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [sub, v] of Object.entries(value)) show(`${key}: ${sub.replaceAll("_", " ")}`, sub, v);
    } else {
      show(key.replaceAll("_", " "), key, value);
    }
  }
  return out;
}
