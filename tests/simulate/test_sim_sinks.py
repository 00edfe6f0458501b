"""Sinks: HTTP batches and retries (network faked at the transport), JSON lines, the store."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from convtrack.config import Settings
from convtrack.errors import ConvtrackError
from convtrack.events import EventIn
from convtrack.simulate.http import HttpSink, RetryPolicy, batches
from convtrack.simulate.progress import Progress
from convtrack.simulate.simulation import Simulation
from convtrack.simulate.sinks import JsonlSink, StoreSink
from convtrack.store import open_store

Handler = Callable[[httpx.Request], httpx.Response]


def quiet(total: int) -> Progress:
    return Progress("test", total, stream=io.StringIO(), enabled=False)


def ok(request: httpx.Request) -> httpx.Response:
    n = len(json.loads(request.content)["events"])
    return httpx.Response(200, json={"accepted": n, "rejected": 0, "errors": []})


class Recorder:
    """A fake collector: answers with ``script`` in order, then 200; records every request."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            return step if isinstance(step, httpx.Response) else step(request)
        return ok(request)

    def sink(self, **kw: Any) -> HttpSink:
        return HttpSink(
            "http://collector.test", "ctk_pub_x", "ctk_sec_y",
            transport=httpx.MockTransport(self), sleep=self.sleeps.append,
            policy=RetryPolicy(attempts=4), **kw,
        )  # fmt: skip


def test_batches_are_single_source_bounded_and_in_arrival_order(sim: Simulation) -> None:
    sent = sim.sent()
    out = list(batches(sent, 500))
    assert all(0 < len(b) <= 500 and len({d.source for d in b}) == 1 for b in out)
    assert sorted(id(d) for b in out for d in b) == sorted(id(d) for d in sent)
    # the tag copy of a pair goes before its server copy
    position = {}
    for i, batch in enumerate(out):
        for d in batch:
            position[(d.source, d.event.event_id)] = i
    pairs = [k[1] for k in position if k[0] == "server" and ("tag", k[1]) in position]
    assert pairs and all(position[("tag", e)] <= position[("server", e)] for e in pairs)


def test_http_sink_sends_each_copy_with_its_key(sim: Simulation) -> None:
    fake = Recorder()
    sent = sim.sent()
    report = fake.sink().send(sent, quiet(len(sent)))
    assert report.accepted == report.sent == len(sent) and report.retries == 0
    keys = {"ctk_pub_x": "tag", "ctk_sec_y": "server"}
    received = []
    for request in fake.requests:
        assert request.url.path == "/v1/events" and request.method == "POST"
        assert "user-agent" not in request.headers
        source = keys[request.headers["authorization"].removeprefix("Bearer ")]
        events = msgspec.json.decode(request.content, type=dict[str, list[EventIn]])["events"]
        assert len(events) <= 500
        received += [(source, e.event_id) for e in events]
    assert sorted(received) == sorted((d.source, d.event.event_id) for d in sent)


def test_http_sink_retries_429_and_503_honouring_retry_after(sim: Simulation) -> None:
    fake = Recorder(
        httpx.Response(429, headers={"retry-after": "2"}, json={"error": {}}),
        httpx.Response(503, headers={"retry-after": "1"}, json={"error": {}}),
        httpx.ConnectError("refused"),
    )
    sent = sim.sent()[:10]
    report = fake.sink().send(sent, quiet(10))
    assert report.accepted == 10 and report.retries == 3
    assert fake.sleeps[:2] == [2.0, 1.0] and 0 <= fake.sleeps[2] <= 30


def test_http_sink_gives_up_after_the_policy_attempts(sim: Simulation) -> None:
    fake = Recorder(*[httpx.Response(503, json={"error": {"code": "overloaded"}})] * 4)
    with pytest.raises(ConvtrackError, match="gave up after 4 attempts"):
        fake.sink().send(sim.sent()[:3], quiet(3))
    assert len(fake.requests) == 4


def test_http_sink_never_retries_a_client_error(sim: Simulation) -> None:
    body = {"error": {"code": "invalid_key", "message": "unknown key", "details": []}}
    fake = Recorder(httpx.Response(401, json=body))
    with pytest.raises(ConvtrackError, match="invalid_key"):
        fake.sink().send(sim.sent()[:3], quiet(3))
    assert len(fake.requests) == 1 and not fake.sleeps


def test_http_sink_splits_a_batch_the_server_finds_too_large(sim: Simulation) -> None:
    fake = Recorder(httpx.Response(413, json={"error": {"code": "payload_too_large"}}))
    sent = [d for d in sim.sent() if d.source == "tag"][:8]
    report = fake.sink().send(sent, quiet(8))
    assert report.accepted == 8
    assert [len(json.loads(r.content)["events"]) for r in fake.requests] == [8, 4, 4]


def test_http_sink_counts_rejections(sim: Simulation) -> None:
    answer = {"accepted": 2, "rejected": 1, "errors": [{"index": 0, "reason": "x"}]}
    fake = Recorder(httpx.Response(200, json=answer))
    report = fake.sink().send([d for d in sim.sent() if d.source == "tag"][:3], quiet(3))
    assert (report.accepted, report.rejected, report.errors) == (2, 1, answer["errors"])


def test_http_sink_needs_a_server_key_for_server_copies(sim: Simulation) -> None:
    sink = HttpSink("http://collector.test", "ctk_pub_x", None, transport=httpx.MockTransport(ok))
    with pytest.raises(ConvtrackError, match="--server-key"):
        sink.send(sim.sent(), quiet(1))


def test_jsonl_sink_writes_one_copy_per_line(sim: Simulation, tmp_path: Path) -> None:
    path = tmp_path / "out" / "events.jsonl"
    sent = sim.sent()
    JsonlSink(str(path)).send(sent, quiet(len(sent)))
    lines = path.read_bytes().splitlines()
    assert len(lines) == len(sent)
    for line, d in zip(lines, sent, strict=True):
        obj = json.loads(line)
        assert set(obj) == {"source", "event"} and obj["source"] == d.source
        assert msgspec.json.decode(json.dumps(obj["event"]), type=EventIn) == d.event


def test_store_sink_stores_each_event_once_and_is_idempotent(
    sim: Simulation, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path)
    sent = sim.sent()
    distinct = {d.event.event_id for d in sent}
    first = StoreSink(settings, chunk_size=700).send(sent, quiet(len(sent)))
    again = StoreSink(settings).send(sent, quiet(len(sent)))
    assert (first.new, again.new) == (len(distinct), 0)
    with open_store(settings.store_url, read_only=True) as store:
        rows = store.query(
            "SELECT count(*), count(DISTINCT event_id), count(*) FILTER (source = 'server'),"
            " count(*) FILTER (email_sha256 IS NOT NULL), count(*) FILTER (pii_raw IS NOT NULL),"
            " count(*) FILTER (ip IS NULL OR user_agent IS NULL)"
            " FROM events"
        ).rows
    total, unique, server, hashed, raw, anonymous = rows[0]
    assert total == unique == len(distinct)
    assert server >= sum(1 for d in sent if d.source == "server") - len(sent) + len(distinct)
    assert hashed == server and raw == 0 and anonymous == 0
