// Live debugger: the latest events, good and quarantined, filtered by anonymous id, event name
// or source, each with its validation result and consent decision; polls while "live" is on.
import { getJSON } from "./api.js";
import { el, errorText, table } from "./dom.js";

const POLL_MS = 2000;
let polls = 0;

function reasons(event) {
  if (event.validation.valid) return "valid";
  return event.validation.reasons.map((r) => `${r.path || ""}: ${r.reason || ""}`).join("; ");
}

function consent(event) {
  const decision = event.consent;
  if (!decision) return event.status === "quarantined" ? "not decided (quarantined)" : "–";
  if (typeof decision !== "object") return String(decision);
  const parts = [];
  for (const [key, value] of Object.entries(decision)) {
    parts.push(`${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`);
  }
  return parts.join("; ");
}

function details(event) {
  return el("details", {}, el("summary", {}, "JSON"), el("pre", {}, JSON.stringify(event, null, 2)));
}

export async function render(root) {
  const params = new URLSearchParams(location.search);
  const field = (name, label) => el("label", {}, label,
    el("input", { name, id: `filter-${name}`, value: params.get(name) || "", type: "search" }));
  const form = el("form", { class: "controls", id: "filters" },
    field("anonymous_id", "anonymous id"), field("event_name", "event name"),
    field("source", "source"),
    el("label", {}, "live", el("input", { type: "checkbox", id: "live", checked: true })),
    el("button", { type: "submit" }, "Apply"));
  const status = el("p", { class: "notes", role: "status" });
  const list = el("div", { id: "events" });
  root.replaceChildren(el("h1", {}, "Live debugger"), form, status, list);
  let timer = null;
  let latest = 0; // the newest refresh started: an older one still in flight is dropped

  async function refresh() {
    clearTimeout(timer);
    const token = ++latest;
    const filters = Object.fromEntries(new FormData(form).entries());
    delete filters.live;
    try {
      const body = await getJSON("/v1/debug/events", { ...filters, limit: 100 });
      if (token !== latest) return; // its filters were replaced meanwhile; so is its timer
      list.replaceChildren(table([
        { title: "received", value: (e) => e.received_at },
        { title: "status", value: (e) => e.status, cls: (e) => `status-${e.status}` },
        { title: "event name", value: (e) => e.event_name },
        { title: "source", value: (e) => e.source },
        { title: "anonymous id", value: (e) => e.anonymous_id },
        { title: "validation", value: reasons },
        { title: "consent decision", value: consent },
        { title: "", value: details },
      ], body.events, (e) => `event ${e.status}`));
      status.textContent = `${body.events.length} events · updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      if (token !== latest) return;
      status.replaceChildren(errorText(error));
    }
    document.body.dataset.polls = String(++polls);
    if (document.getElementById("live").checked) timer = setTimeout(refresh, POLL_MS);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams(new FormData(form));
    query.delete("live");
    for (const [k, v] of [...query.entries()]) if (!v) query.delete(k);
    history.replaceState(null, "", `${location.pathname}?${query}`);
    refresh();
  });
  document.getElementById("live").addEventListener("change", refresh);
  await refresh();
}
