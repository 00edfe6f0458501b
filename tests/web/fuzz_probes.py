"""The probes of test_fuzz_routes.py: the operations as the server's OpenAPI document lists
them, the credentials to try, the bad bodies, query values, paths and methods generated for
each (deterministically), and the check of each answer against the one error shape."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from convtrack.collect.skan import PATH as SKAN_PATH

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")  # OPTIONS (CORS) and HEAD are not probed
OVERSIZE = 5 * 1_048_576  # over every body limit (the largest, spend, is 4 MiB)
SAMPLE = {"link_id": "no-such-link", "reject_id": "no-such-reject"}  # path template values
# A tp2 body that parses, so the request reaches the key check (the key may be in ``aid``).
TP2_BODY = json.dumps(
    {
        "schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
        "data": [{"e": "pv"}],
    }
).encode()
# Query parameters by what their values must be: a wrong value is refused (4xx). Any other
# parameter (free text such as event_name, or a pixel's event field) must only never fail.
DATES = {"from", "to", "since", "after_received_at"}
NUMBERS = {"limit", "last", "hours", "weeks", "z", "series"}
CHOICES = {"model", "by", "grain", "currency", "compare", "status"}
BAD_VALUES = {
    "date": ("not-a-date", "2024-13-45", "1e999"),
    "number": ("abc", "-1", "NaN"),
    "choice": ("no-such-choice", "\x00"),
    "free": ("not-a-date", "-1", "\x00", "9" * 40, "é" * 300),
}
UNKNOWN_PATHS = (
    "/nope",
    "/v1/nope",
    "/v1/admin/nope",
    "/v1/admin/",
    "/v1/qa/nope",
    "/v1/reports/nope",
    "/static/dashboard/nope.js",
    "/demo/nope",
)


@dataclass(frozen=True)
class Operation:
    path: str  # as the document has it (templates kept)
    method: str  # upper case
    op: dict[str, Any] = field(hash=False, compare=False)

    @property
    def url_path(self) -> str:
        path = self.path
        for name, value in SAMPLE.items():
            path = path.replace("{" + name + "}", value)
        return path

    @property
    def schemes(self) -> set[str]:
        return {name for option in self.op["security"] for name in option}

    @property
    def media(self) -> set[str]:
        """The success answer's content types."""
        answers = self.op["responses"].values()
        return {kind for answer in answers for kind in answer.get("content", {})}

    @property
    def is_pixel(self) -> bool:
        return "image/gif" in self.media

    @property
    def is_page(self) -> bool:
        return "text/html" in self.media

    def json_body(self) -> dict[str, Any] | None:
        content = self.op.get("requestBody", {}).get("content", {})
        found: dict[str, Any] | None = content.get("application/json")
        return found

    def query_names(self) -> list[str]:
        return [p["name"] for p in self.op.get("parameters", []) if p["in"] == "query"]


@dataclass
class Probe:
    """One request and what it tests."""

    what: str
    operation: Operation | None
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None

    def __str__(self) -> str:
        query = f" ?{self.params}" if self.params else ""
        return f"{self.method} {self.path}{query} [{self.what}]"


@dataclass
class Credentials:
    admin: str
    secret: str
    public: str
    revoked: str
    session: str
    csrf: str

    def good(self, operation: Operation) -> dict[str, str]:
        """Headers that open ``operation`` (the first scheme it lists that we hold)."""
        schemes = operation.schemes
        if "writeKeyBasic" in schemes:  # Segment reads Basic, not Bearer (an OAuth token there)
            return {"authorization": basic(self.secret)}
        if "writeKey" in schemes:
            return {"authorization": bearer(self.secret)}
        if "adminToken" in schemes:
            return {"authorization": bearer(self.admin)}
        if "session" in schemes:
            return {"cookie": f"ct_session={self.session}", "x-csrf-token": self.csrf}
        return {}

    def good_params(self, operation: Operation) -> dict[str, str]:
        return {"k": self.public} if operation.schemes == {"writeKeyQuery"} else {}


def bearer(token: str) -> str:
    return f"Bearer {token}"


def basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:".encode()).decode()


# --- the server, its routes and the credentials ---------------------------------------------
def send(client: httpx.Client, probe: Probe) -> httpx.Response:
    client.cookies.clear()  # e.g. the ct_aid cookie a public-key request sets
    return client.request(
        probe.method,
        probe.path,
        headers=probe.headers,
        params=probe.params,
        content=probe.content,
    )


# --- what an answer must be ------------------------------------------------------------------
def shape_problem(response: httpx.Response) -> str | None:
    """Why ``response`` is not the one error shape (None if it is).

    Segment paths add top-level ``code`` and ``message`` (what its SDKs read) beside
    ``error``; they must repeat the error's own."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return f"content-type {response.headers.get('content-type')!r}"
    try:
        body = response.json()
    except ValueError:
        return "not JSON"
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return "no error object"
    error = body["error"]
    if set(error) != {"code", "message", "details"}:
        return f"error keys {sorted(error)}"
    if not (isinstance(error["code"], str) and error["code"]):
        return "no code"
    if not (isinstance(error["message"], str) and error["message"].strip()):
        return "no message"
    if not isinstance(error["details"], list):
        return "details is not a list"
    extra = {k: v for k, v in body.items() if k != "error"}
    if extra and extra != {"code": error["code"], "message": error["message"]}:
        return f"extra keys {sorted(extra)}"
    return None


def quarantined_with_reasons(response: httpx.Response) -> bool:
    """The protocol adapters' documented answer to a readable request whose messages are all
    invalid (docs/protocols.md): 200, nothing accepted, each message in quarantine with its
    reasons in ``errors``."""
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    return body.get("accepted") == 0 and body.get("rejected", 0) >= 1 and bool(body.get("errors"))


def problem(response: httpx.Response, statuses: tuple[int, ...], probe: Probe) -> str | None:
    """Why the answer breaks the rule for a bad request (None if it keeps it)."""
    status = response.status_code
    operation = probe.operation
    if operation is not None and operation.is_pixel and status == 200:
        gif = response.headers.get("content-type") == "image/gif"
        return None if gif else f"200 {response.headers.get('content-type')}"
    if operation is not None and operation.path == SKAN_PATH and status == 200:
        quarantined = response.json().get("status") == "quarantined"
        return None if quarantined else f"200 {response.text[:200]}"
    if status == 200 and quarantined_with_reasons(response):
        return None
    if status not in statuses:
        return f"{status} (expected {'/'.join(map(str, statuses))}): {response.text[:200]}"
    why = shape_problem(response)
    return f"{status} not in the error shape ({why}): {response.text[:200]}" if why else None


def run(client: httpx.Client, probes: list[Probe], statuses: tuple[int, ...]) -> list[str]:
    failures = []
    for probe in probes:
        response = send(client, probe)
        why = problem(response, statuses, probe)
        if why:
            failures.append(f"{probe}: {why}")
    return failures


CLIENT_ERRORS = tuple(range(400, 500))


# --- the generators --------------------------------------------------------------------------
def auth_probes(operation: Operation, creds: Credentials) -> Iterator[Probe]:
    """Requests without the right credentials for one non-public operation."""
    schemes = operation.schemes
    body = TP2_BODY if operation.path.endswith("/tp2") else b"{}"
    content = body if operation.method != "GET" else None

    def probe(what: str, headers: dict[str, str], params: dict[str, str] | None = None) -> Probe:
        hdrs = {"content-type": "application/json", **headers} if content else headers
        return Probe(
            what, operation, operation.method, operation.url_path, hdrs, params or {}, content
        )

    yield probe("no credentials", {})
    yield probe("unknown secret key", {"authorization": bearer("ctk_sec_" + "x" * 32)})
    yield probe("unknown public key", {"authorization": basic("ctk_pub_" + "x" * 32)})
    yield probe("revoked key", {"authorization": basic(creds.revoked)})
    yield probe("wrong admin token", {"authorization": bearer(creds.admin[::-1])})
    yield probe("scheme without a token", {"authorization": "Bearer"})
    yield probe("unknown scheme", {"authorization": f"Token {creds.admin}"})
    yield probe("undecodable Basic", {"authorization": "Basic %%%"})
    yield probe("unknown session", {"cookie": "ct_session=no-such-session"})
    writes = schemes & {"writeKey", "writeKeyBasic", "writeKeyQuery"}
    if writes and "adminToken" not in schemes:
        yield probe("admin token as a write key", {"authorization": bearer(creds.admin)})
        yield probe("admin token as Basic user", {"authorization": basic(creds.admin)})
    if not writes:
        yield probe("secret key as the admin token", {"authorization": bearer(creds.secret)})
        yield probe("public key as the admin token", {"authorization": bearer(creds.public)})
    if "writeKeyQuery" in schemes:
        yield probe("secret key in the URL", {}, {"k": creds.secret})
    elif writes:
        yield probe("public key in the URL", {}, {"k": creds.public})
    if "writeKey" in schemes and "adminToken" in schemes:  # the privacy API: secret keys only
        yield probe("public key for a secret-key route", {"authorization": bearer(creds.public)})
    if "session" not in schemes and "adminToken" in schemes:
        cookie = {"cookie": f"ct_session={creds.session}"}
        yield probe("a session where only the token opens", cookie)
    if "session" in schemes and operation.method not in ("GET", "HEAD"):
        yield probe("session without its CSRF token", {"cookie": f"ct_session={creds.session}"})
        yield probe(
            "session with a wrong CSRF token",
            {"cookie": f"ct_session={creds.session}", "x-csrf-token": creds.csrf[::-1]},
        )


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def alternatives(doc: dict[str, Any], schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    schema = resolve(doc, schema)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            for option in schema[key]:
                yield from alternatives(doc, option)
            return
    yield schema


def json_types(doc: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for option in alternatives(doc, schema):
        kind = option.get("type")
        found |= set(kind) if isinstance(kind, list) else {kind} if kind else {"any"}
    return found | ({"number"} if "integer" in found else set())


WRONG_VALUES: tuple[tuple[str, Any], ...] = (
    ("integer", 12345),
    ("string", "not-the-type"),
    ("array", ["not", "the", "type"]),
    ("object", {"not": "the type"}),
    ("boolean", True),
)


def wrong_type_bodies(doc: dict[str, Any], schema: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """For each field of each object alternative: a body with a value of a type it refuses."""
    for option in alternatives(doc, schema):
        properties = option.get("properties") or {}
        for name in sorted(properties):
            allowed = json_types(doc, properties[name])
            if "any" in allowed:
                continue
            value = next((v for kind, v in WRONG_VALUES if kind not in allowed), None)
            if value is not None:
                yield f"wrong type for {name}", {name: value}
        if not properties:  # a free-form object: common field names with odd types
            yield "odd field types", {"type": 5, "event": [], "userId": {}, "properties": "x"}


def body_probes(operation: Operation, creds: Credentials, doc: dict[str, Any]) -> Iterator[Probe]:
    """Bad bodies for one operation that takes one, sent with good credentials."""
    content = operation.op.get("requestBody", {}).get("content", {})
    if not content:
        return
    headers = creds.good(operation)
    if "application/json" not in content:  # a form (sign-out): its token must come from the body
        headers.pop("x-csrf-token", None)
    params = creds.good_params(operation)
    json_headers = {**headers, "content-type": "application/json"}

    def probe(what: str, hdrs: dict[str, str], body: bytes) -> Probe:
        return Probe(what, operation, operation.method, operation.url_path, hdrs, params, body)

    kind = next(iter(content))
    pad = b'{"pad": "' + b"x" * OVERSIZE + b'"}'
    yield probe("a body over the limit", {**headers, "content-type": kind}, pad)
    schema = operation.json_body()
    if schema is None:
        return
    yield probe("malformed JSON", json_headers, b'{"event_name": "x", ')
    yield probe("not UTF-8", json_headers, b'{"name": "caf\xe9"}')
    for literal in (b"[1, 2]", b"42", b'"text"', b"null", b"true"):
        yield probe(f"{literal.decode()} instead of an object", json_headers, literal)
    for what, body in wrong_type_bodies(doc, schema["schema"]):
        yield probe(what, json_headers, json.dumps(body).encode())
    for wrong in ("application/xml", "multipart/form-data", "image/png"):
        yield probe(f"content type {wrong}", {**headers, "content-type": wrong}, b"{}")


def query_kind(name: str) -> str:
    if name in DATES:
        return "date"
    if name in NUMBERS:
        return "number"
    return "choice" if name in CHOICES else "free"


def query_probes(operation: Operation, creds: Credentials) -> Iterator[tuple[Probe, bool]]:
    """(probe, must it be refused) for each query parameter and each bad value of its kind."""
    content = b"" if operation.method == "POST" else None
    for name in operation.query_names():
        kind = query_kind(name)
        for value in BAD_VALUES[kind]:
            params = {**creds.good_params(operation), name: value}
            probe = Probe(
                f"{kind} parameter {name}={value[:20]!r}",
                operation,
                operation.method,
                operation.url_path,
                creds.good(operation),
                params,
                content,
            )
            yield probe, kind != "free"


def method_probes(path: str, ops: list[Operation], creds: Credentials) -> Iterator[Probe]:
    """Every method ``path`` does not list, with the credentials of one it does."""
    listed = {o.method for o in ops}
    for method in METHODS:
        if method not in listed:
            content = b"{}" if method != "GET" else None
            headers = {**creds.good(ops[0]), "content-type": "application/json"}
            params = creds.good_params(ops[0])
            yield Probe("method", ops[0], method, ops[0].url_path, headers, params, content)


# --- the tests -------------------------------------------------------------------------------
