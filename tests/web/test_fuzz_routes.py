"""Every route the server serves, fed bad input on a real ``convtrack serve`` on loopback.

The routes come from the server itself: ``GET /openapi.json`` is built from its route table
and the operator API's ``(method, path)`` table (web/openapi.py), so a new route is probed
here without a change to this file. For each operation a deterministic generator (no
randomness; under two thousand requests, about ten seconds) makes the requests below, and
each answer is checked against the product's rule, "bad input gets a clear error and loses
nothing":

- credentials: none, unknown or revoked keys, a malformed header, a key of the wrong kind
  (public for secret, a write key for the admin token and back, a secret key in the URL, a
  session where only the token opens, a session change without its CSRF token) → 401/403;
- bodies: malformed JSON, an array/number/string/null/boolean instead of an object, each
  field of the body's schema with a value of the wrong JSON type, a body over the size
  limit, a content type that is not JSON → a 4xx;
- query parameters with a value of the wrong kind (a bad date, a word for a number, a value
  outside the parameter's choices) → a 4xx; free-text parameters at least never a 5xx;
- path parameters that name nothing, and paths the server does not have → 404;
- every method an operation does not list → 405.

Every 4xx must be the one error shape (docs/api.md). The documented exceptions are kept
narrow: a page without a session redirects to sign in (303), a pixel answers its GIF
whatever happens (an image request cannot act on an error, docs/pixel.md), and a
SKAdNetwork postback that cannot be read is answered 200 ``quarantined`` (in custody,
docs/mobile.md). Each test lists every failing probe at once. At the end the server is
still up, its log holds no traceback, and the events it acknowledged before any of it are
all still stored, once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fuzz_probes import (
    CLIENT_ERRORS,
    UNKNOWN_PATHS,
    Credentials,
    Operation,
    Probe,
    auth_probes,
    bearer,
    body_probes,
    method_probes,
    problem,
    query_probes,
    run,
    send,
)

from live_server import Server, guarded_server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server with a few acknowledged events that every probe must leave alone."""
    with guarded_server(tmp_path_factory.mktemp("fuzz")) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(live: Server) -> Iterator[httpx.Client]:
    """No cookie jar carried between probes: each probe says exactly what it sends."""
    with httpx.Client(base_url=live.url, timeout=60, trust_env=False) as http:
        yield http


@pytest.fixture(scope="module")
def operations(live: Server, client: httpx.Client) -> list[Operation]:
    response = client.get("/openapi.json")
    assert response.status_code == 200, response.text
    found = [
        Operation(path, method.upper(), op)
        for path, by_method in sorted(response.json()["paths"].items())
        for method, op in sorted(by_method.items())
    ]
    # The document is the server's own route table: the operator API and ingest are in it.
    paths = {o.path for o in found}
    assert {"/v1/events", "/v1/admin/sql", "/v1/admin/quarantine/{reject_id}"} <= paths
    return found


@pytest.fixture(scope="module")
def creds(live: Server, client: httpx.Client) -> Credentials:
    admin = (live.data_dir / "admin.token").read_text().strip()
    revoked = live.create_key("fuzz-revoked", secret=True)
    live.cli("keys", "revoke", "fuzz-revoked")
    signin = client.post("/signin", data={"secret": admin})
    assert signin.status_code == 303, signin.text
    session = signin.cookies["ct_session"]
    client.cookies.clear()
    info = client.get("/v1/dashboard/session", headers={"cookie": f"ct_session={session}"})
    assert info.status_code == 200, info.text
    return Credentials(
        admin, live.secret_key, str(live.public_key), revoked, session, info.json()["csrf_token"]
    )


def test_every_protected_operation_refuses_wrong_credentials(
    client: httpx.Client, operations: list[Operation], creds: Credentials
) -> None:
    failures = []
    protected = [o for o in operations if o.schemes]
    assert len(protected) > 40, [str(o) for o in protected]
    for operation in protected:
        for probe in auth_probes(operation, creds):
            response = send(client, probe)
            if operation.is_page and "session" in operation.schemes:  # to the sign-in page
                location = response.headers.get("location", "")
                if response.status_code != 303 or not location.startswith("/?next="):
                    failures.append(f"{probe}: {response.status_code} {location!r}")
                continue
            why = problem(response, (401, 403), probe)
            if why:
                failures.append(f"{probe}: {why}")
    assert failures == [], "\n".join(failures)


def test_every_body_taking_operation_refuses_bad_bodies(
    client: httpx.Client, operations: list[Operation], creds: Credentials
) -> None:
    doc = client.get("/openapi.json").json()
    with_bodies = [o for o in operations if o.op.get("requestBody")]
    assert len(with_bodies) > 20, [str(o) for o in with_bodies]
    failures = []
    for operation in with_bodies:
        for probe in body_probes(operation, creds, doc):
            statuses = (413,) if "over the limit" in probe.what else CLIENT_ERRORS
            statuses = (400,) if probe.what == "malformed JSON" else statuses
            failures += run(client, [probe], statuses)
    assert failures == [], "\n".join(failures)


def test_bad_query_values_are_refused_and_never_fail(
    client: httpx.Client, operations: list[Operation], creds: Credentials
) -> None:
    failures = []
    for operation in operations:
        for probe, refused in query_probes(operation, creds):
            response = send(client, probe)
            if refused:
                why = problem(response, CLIENT_ERRORS, probe)
            elif response.status_code >= 500:
                why = f"{response.status_code}: {response.text[:200]}"
            elif response.status_code >= 400:
                why = problem(response, CLIENT_ERRORS, probe)
            else:
                why = None
            if why:
                failures.append(f"{probe}: {why}")
    assert failures == [], "\n".join(failures)


def test_path_parameters_that_name_nothing_are_404(
    client: httpx.Client, operations: list[Operation], creds: Credentials
) -> None:
    templated = [o for o in operations if "{" in o.path]
    assert templated, "no templated path in the document"
    probes = [Probe("no such id", o, o.method, o.url_path, creds.good(o)) for o in templated] + [
        Probe("odd id", o, o.method, o.path.split("{")[0] + odd, creds.good(o))
        for o in templated
        for odd in ("%00", "a" * 500, "..%2F..%2Fadmin.token", "%E9")
    ]
    assert run(client, probes, (404,)) == []


def test_unknown_paths_are_404(client: httpx.Client, creds: Credentials) -> None:
    auth = {"authorization": bearer(creds.admin)}
    probes = [Probe("unknown path", None, "GET", path, auth) for path in UNKNOWN_PATHS]
    assert run(client, probes, (404,)) == []


def test_unlisted_methods_are_405(
    client: httpx.Client, operations: list[Operation], creds: Credentials
) -> None:
    by_path: dict[str, list[Operation]] = {}
    for operation in operations:
        by_path.setdefault(operation.path, []).append(operation)
    probes = [p for path, ops in by_path.items() for p in method_probes(path, ops, creds)]
    assert len(probes) > 3 * len(by_path), len(probes)
    failures = run(client, probes, (405,))
    assert failures == [], "\n".join(failures)


def test_the_server_is_up_and_lost_nothing(live: Server, client: httpx.Client) -> None:
    """Last in the file: after every probe above, nothing acknowledged is gone or doubled."""
    live.assert_intact()  # /healthz, /readyz, and each acknowledged event stored once
    assert len(live.acked) == 5
    for line in Path(live.log_path).read_text(errors="replace").splitlines():
        assert "Traceback" not in line and " ERROR " not in line, line
