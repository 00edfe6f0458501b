"""Send deliveries to a running collector: ``POST /v1/events`` in batches, with retries.

Browser copies go with the public key (stored as source ``tag``), backend copies with the
secret key (source ``server``). Batches hold up to ``batch_size`` events of one source and
follow arrival order (see ``batches``). Retry policy (docs/simulate.md): 429, 5xx and
connection errors are retried with exponential backoff and jitter, honouring ``Retry-After``;
a 413 splits the batch; any other answer stops the run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import httpx
import msgspec

from convtrack.errors import ConvtrackError
from convtrack.simulate.hits import Delivery
from convtrack.simulate.progress import Progress
from convtrack.simulate.sinks import Report

MAX_ERRORS_KEPT = 5


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8
    base_s: float = 0.25
    cap_s: float = 30.0
    retry_status: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def backoff(self, attempt: int, jitter: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return jitter.uniform(0, min(self.cap_s, self.base_s * 2**attempt))


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def batches(deliveries: Sequence[Delivery], size: int) -> Iterator[list[Delivery]]:
    """Up to two single-source batches per window of ``size`` consecutive deliveries.

    Within a window the source whose first copy arrived first goes first, so the stream stays
    in arrival order up to one window: a browser copy normally reaches the collector before the
    backend's copy of the same event, as it would live.
    """
    for start in range(0, len(deliveries), size):
        window = deliveries[start : start + size]
        by_source: dict[str, list[Delivery]] = {}
        for d in window:
            by_source.setdefault(d.source, []).append(d)
        yield from by_source.values()


@dataclass
class HttpSink:
    url: str
    key: str
    server_key: str | None = None
    batch_size: int = 500
    timeout_s: float = 30.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep

    def send(self, deliveries: Sequence[Delivery], progress: Progress) -> Report:
        if self.server_key is None and any(d.source == "server" for d in deliveries):
            raise ConvtrackError(
                "server_key_required",
                "Some conversions are sent by a backend: pass --server-key with a secret key "
                "(convtrack keys create --name backend --secret).",
            )
        report = Report(self.url.rstrip("/") + "/v1/events")
        jitter = random.Random()  # timing only: never affects what is generated
        with httpx.Client(base_url=self.url, transport=self.transport, timeout=self.timeout_s) as c:
            del c.headers["user-agent"]  # each event carries its simulated browser's UA
            for batch in batches(deliveries, self.batch_size):
                self._post(c, batch, report, jitter)
                progress.advance(len(batch))
        return report

    def _post(
        self, client: httpx.Client, batch: list[Delivery], report: Report, jitter: random.Random
    ) -> None:
        key = self.key if batch[0].source == "tag" else self.server_key
        body = msgspec.json.encode({"events": [d.event for d in batch]})
        headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
        problem = ""
        for attempt in range(self.policy.attempts):
            if attempt:
                report.retries += 1
            try:
                response = client.post("/v1/events", content=body, headers=headers)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                self.sleep(self.policy.backoff(attempt, jitter))
                continue
            if response.status_code == 200:
                _count(report, len(batch), response.json())
                return
            if response.status_code == 413 and len(batch) > 1:
                half = len(batch) // 2
                self._post(client, batch[:half], report, jitter)
                self._post(client, batch[half:], report, jitter)
                return
            problem = _describe(response)
            if response.status_code not in self.policy.retry_status:
                raise ConvtrackError("send_failed", f"POST /v1/events: {problem}", 502)
            wait = retry_after(response)
            self.sleep(wait if wait is not None else self.policy.backoff(attempt, jitter))
        raise ConvtrackError(
            "send_failed", f"gave up after {self.policy.attempts} attempts: {problem}", 502
        )


def _count(report: Report, size: int, body: dict) -> None:
    report.sent += size
    report.accepted += int(body.get("accepted", 0))
    report.rejected += int(body.get("rejected", 0))
    room = MAX_ERRORS_KEPT - len(report.errors)
    report.errors.extend(body.get("errors", [])[: max(room, 0)])


def _describe(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
        text = f"{error.get('code')}: {error.get('message')}"
    except (ValueError, AttributeError):
        text = response.text[:200]
    return f"HTTP {response.status_code} {text}"
