// JSON from the server's APIs, with the session cookie; a 401 sends the browser to sign in.
let csrf = null;

export class ApiError extends Error {
  constructor(status, body) {
    const message = body && body.error ? body.error.message : `HTTP ${status}`;
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function url(path, params = {}) {
  const out = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params)) {
    for (const v of [].concat(value)) {
      if (v !== null && v !== undefined && v !== "") out.searchParams.append(key, String(v));
    }
  }
  return out;
}

function signIn() {
  const next = location.pathname.startsWith("/dashboard/") ? location.pathname : "";
  location.assign(next ? "/?next=" + encodeURIComponent(next) : "/");
}

export async function getJSON(path, params = {}) {
  const response = await fetch(url(path, params), {
    credentials: "same-origin",
    headers: { accept: "application/json" },
  });
  const body = await response.json().catch(() => null);
  if (response.status === 401) {
    signIn();
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export async function csrfToken() {
  if (csrf === null) csrf = (await getJSON("/v1/dashboard/session")).csrf_token;
  return csrf;
}

export async function signOut() {
  const token = await csrfToken();
  await fetch("/signout", {
    method: "POST",
    credentials: "same-origin",
    headers: { "x-csrf-token": token },
  });
  location.assign("/?signed_out=1");
}
