"""Local fake ad-platform endpoints that check every request against the spec.

    with FakePlatform("meta") as fake:
        env = fake.env()                   # CONVTRACK_META_* pointing at the fake
        fake.fail_next(3, status=503)      # the next three requests get 503
        ...
        assert fake.received_event_ids() == ["e1", "e2"]
        assert fake.errors == []           # no request broke the spec

A real HTTP server on 127.0.0.1 in a thread. A request the validator refuses gets the
platform's error shape (HTTP 400, or per-element/200 answers where the platform does that) and
is kept in ``errors``; accepted events are kept in order, keyed as the platform dedupes them.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from forward.validators import ENV, VALIDATORS, Received, Verdict, parse_json


@dataclass
class Failure:
    status: int
    body: bytes
    headers: dict[str, str]
    hang: bool = False


def error_body(platform: str, message: str, status: int = 400) -> bytes:
    """What the platform answers to a request it refuses (shapes from the specs)."""
    shapes: dict[str, Any] = {
        "meta": {
            "error": {
                "message": message,
                "type": "OAuthException",
                "code": 190 if status == 401 else 100,
                "error_subcode": 2804001,
                "is_transient": False,
                "fbtrace_id": "AfakeTrace",
            }
        },
        "google_dm": {
            "error": {
                "code": status,
                "message": message,
                "status": "UNAUTHENTICATED" if status == 401 else "INVALID_ARGUMENT",
                "details": [{"reason": "INVALID_ARGUMENT", "domain": "datamanager.googleapis.com"}],
            }
        },
        "tiktok": {"code": 40002, "message": message, "request_id": "fake", "data": {}},
        "linkedin": {"status": status, "message": message, "serviceErrorCode": 100},
    }
    shape = shapes.get(platform, {"error": {"message": message}})
    return json.dumps(shape).encode()


def success_body(platform: str, verdict: Verdict, count: int) -> tuple[int, bytes]:
    if platform == "meta":
        body: Any = {"events_received": count, "messages": [], "fbtrace_id": "AfakeTrace"}
    elif platform == "google_dm":
        body = {"requestId": "fake-request-1"}
    elif platform == "ga4":
        return 204, b""
    elif platform == "tiktok":
        body = {"code": 0, "message": "OK", "request_id": "fake", "data": {}}
    elif platform == "linkedin":
        body = {
            "elements": [
                {"status": 400, "message": verdict.per_event[i]}
                if i in verdict.per_event
                else {"status": 201}
                for i in range(count)
            ]
        }
    else:
        body = {"status": "SUCCESS", "events_received": count}
    return 200, json.dumps(body).encode()


class FakePlatform:
    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.validate = VALIDATORS[platform]
        self.requests: list[Received] = []
        self.errors: list[str] = []
        self.accepted: list[str] = []
        self._failures: deque[Failure] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> FakePlatform:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use FakePlatform as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def env(self, **extra: str) -> dict[str, str]:
        """``CONVTRACK_<NAME>_*`` variables that point the destination at this fake."""
        prefix = f"CONVTRACK_{self.platform.upper()}_"
        values = {**ENV[self.platform], **extra}
        url_key = "URL" if self.platform == "webhook" else "BASE_URL"
        values[url_key] = self.base_url + ("/hook" if self.platform == "webhook" else "")
        return {prefix + k: v for k, v in values.items()}

    # -- scripting failures ----------------------------------------------------------------------
    def fail_next(
        self,
        times: int = 1,
        *,
        status: int = 503,
        retry_after: str | None = None,
        body: bytes | None = None,
    ) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        default = error_body(self.platform, f"fake failure {status}", status)
        with self._lock:
            self._failures.extend(Failure(status, body or default, headers) for _ in range(times))

    def reject_next(self, times: int = 1, *, status: int = 400, message: str = "bad") -> None:
        """Permanent errors with the platform's own error body."""
        self.fail_next(times, status=status, body=error_body(self.platform, message, status))

    def recover(self) -> None:
        """Forget every scripted failure still waiting: the platform is back."""
        with self._lock:
            self._failures.clear()

    def hang_next(self, times: int = 1) -> None:
        """Never answer (until the fake closes): the client's timeout must fire."""
        with self._lock:
            self._failures.extend(Failure(0, b"", {}, hang=True) for _ in range(times))

    # -- what arrived ------------------------------------------------------------------------
    def received_event_ids(self) -> list[str]:
        with self._lock:
            return list(self.accepted)

    def bodies(self) -> list[Any]:
        with self._lock:
            return [r.body for r in self.requests]

    # -- serving -------------------------------------------------------------------------------
    def _answer(self, received: Received) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(received)
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            if failure.hang:
                self._release.wait(30)
            return failure.status or 503, failure.headers, failure.body
        verdict = self.validate(received)
        with self._lock:
            self.errors.extend(verdict.errors)
            self.errors.extend(f"element {i}: {m}" for i, m in verdict.per_event.items())
        if verdict.errors:
            message = "; ".join(verdict.errors)[:1000]
            if self.platform == "ga4":  # production MP never reports errors; debug does
                return self._ga4_messages(received, verdict)
            if self.platform == "tiktok":
                return 200, {}, error_body("tiktok", message)
            return 400, {}, error_body(self.platform, message)
        if verdict.record:
            with self._lock:
                self.accepted.extend(verdict.keys)
        if self.platform == "ga4" and received.path.startswith("/debug"):
            return 200, {}, b'{"validationMessages":[]}'
        status, body = success_body(
            self.platform, verdict, len(verdict.keys) + len(verdict.per_event)
        )
        return status, {}, body

    def _ga4_messages(
        self, received: Received, verdict: Verdict
    ) -> tuple[int, dict[str, str], bytes]:
        if not received.path.startswith("/debug"):
            return 204, {}, b""
        messages = [
            {"fieldPath": "", "description": e, "validationCode": "VALUE_INVALID"}
            for e in verdict.errors
        ]
        return 200, {}, json.dumps({"validationMessages": messages}).encode()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                parts = urlsplit(self.path)
                received = Received(
                    method="POST",
                    path=parts.path,
                    query=dict(parse_qsl(parts.query)),
                    headers=dict(self.headers.items()),
                    raw=raw,
                    body=parse_json(raw),
                )
                status, headers, body = fake._answer(received)
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    if body:
                        self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
