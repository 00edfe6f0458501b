"""The tracking plan on a real server: enforced at ingest, reloaded on SIGHUP and by the API.

The server runs with ``CONVTRACK_PLAN`` pointing at a plan file the test edits. Reloading
must not drop a request: a client keeps sending while the plan is swapped twice.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

PLAN = """\
version: "{version}"
unknown_events: quarantine
events:
  - name: purchase
    aliases: ["Order Completed"]
    properties:
      order_id: {{type: string, minLength: 1}}
      value: {{type: number, minimum: 0}}
    required: [order_id]
"""
REFUND = "  - name: refund\n"
BROKEN = PLAN + "    colour: blue\n"  # an unknown key on line 10


def write_plan(path: Path, version: str, extra: str = "", template: str = PLAN) -> None:
    path.write_text(template.format(version=version) + extra)


def admin(server: Any, method: str, path: str) -> Any:
    return server.http.request(method, server.url + path, headers=server._admin_auth())


def wait_for_version(server: Any, version: str) -> None:
    deadline = time.monotonic() + 30  # a deadline to give up, not a timing assertion
    while admin(server, "GET", "/v1/admin/plan").json()["version"] != version:
        assert time.monotonic() < deadline, f"plan {version} never came:\n{server.log()}"
        time.sleep(0.05)


class Sender(threading.Thread):
    """Keeps posting valid purchases until stopped; records every status it got."""

    def __init__(self, server: Any) -> None:
        super().__init__(daemon=True)
        self.server, self.statuses, self.ids = server, [], []
        self.transport_retries = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            event = self.server.event(event_name="purchase", order_id="o-1", value=1)
            self.statuses.append(self._post(event))
            self.ids.append(event["event_id"])

    def _post(self, event: dict[str, Any]) -> int:
        """Post like a real client: a connection lost before any answer is retried with the
        same event_id (safe: idempotent); every answer that arrives is recorded."""
        for attempt in range(3):
            try:
                return int(self.server.post_events(event).status_code)
            except httpx.TransportError:
                self.transport_retries += 1
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def test_plan_is_enforced_and_reloaded_by_sighup_and_api(new_server, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    write_plan(plan, "v1")
    server = new_server({"CONVTRACK_PLAN": str(plan)})
    assert admin(server, "GET", "/v1/admin/plan").json() == {"version": "v1", "file": str(plan)}

    alias = server.event(event_name="Order Completed", order_id="o-9", value=3)
    assert server.post_events(alias).status_code == 200
    assert server.event_row(alias["event_id"])["event_name"] == "purchase"
    refund = server.event(event_name="refund")
    error = server.expect_error(server.post_events(refund), 422, "no_valid_events")
    assert error["details"][0]["path"] == "/event_name"
    rows = server.sql("SELECT plan_version, payload FROM quarantine")
    assert [(r["plan_version"], refund["event_id"] in r["payload"]) for r in rows] == [("v1", True)]

    sender = Sender(server)
    sender.start()
    workers = server.worker_pids()
    write_plan(plan, "v2", REFUND)
    os.kill(server.proc.pid, signal.SIGHUP)  # to `convtrack serve`, which forwards it
    wait_for_version(server, "v2")
    assert server.worker_pids() == workers  # reloaded in place, not respawned
    assert server.post_events(refund).status_code == 200
    assert server.event_row(refund["event_id"])["plan_version"] == "v2"

    write_plan(plan, "v3", REFUND, template=BROKEN)
    refused = admin(server, "POST", "/v1/admin/plan/reload")
    error = server.expect_error(refused, 422, "invalid_plan")
    assert [d["path"] for d in error["details"]] == [f"{plan}:10:5"]
    assert "colour" in error["details"][0]["reason"]
    refusals = server.log().count("refused")  # the API's refusal is logged too
    os.kill(server.proc.pid, signal.SIGHUP)  # refused on SIGHUP too: logged, v2 stays
    deadline = time.monotonic() + 30
    while server.log().count("refused") == refusals:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)
    assert admin(server, "GET", "/v1/admin/plan").json()["version"] == "v2"

    write_plan(plan, "v3", REFUND + "  - name: sign_up\n")
    reloaded = server.cli("plan", "reload")
    assert "plan v3 in force" in reloaded.stdout and "was v2" in reloaded.stdout
    sender.stopping.set()
    sender.join()
    print(f"\nsender: {len(sender.statuses)} posts, {sender.transport_retries} transport retries")
    assert sender.statuses and set(sender.statuses) == {200}, set(sender.statuses)
    server.acked.update(sender.ids)
    server.assert_intact()


def test_plan_reload_cli_reports_a_refused_plan_and_a_stopped_server(
    new_server, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.yaml"
    write_plan(plan, "v1")
    server = new_server({"CONVTRACK_PLAN": str(plan)})
    write_plan(plan, "v2", template=BROKEN)
    result = server.cli("plan", "reload", check=False)
    assert result.returncode == 1
    assert f"{plan}:10:5: " in result.stdout and "v1 stays" in result.stderr
    server.stop()
    result = server.cli("plan", "reload", check=False)
    assert result.returncode == 1 and "no convtrack server is running" in result.stderr


def test_a_broken_plan_stops_serve_before_it_listens(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    write_plan(plan, "v1", template=BROKEN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVTRACK_")}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    result = subprocess.run(
        [sys.executable, "-m", "convtrack", "serve", "--data-dir", str(tmp_path), "--port", port],
        env=env | {"CONVTRACK_PLAN": str(plan)},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert f"{plan}:10:5: " in result.stderr and "colour" in result.stderr
    assert "listening" not in result.stdout
