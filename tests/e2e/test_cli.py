"""The CLI works while the server holds the DuckDB file, and on the file once it is stopped."""

from __future__ import annotations

import json


def check_ok(result) -> None:
    assert result.returncode == 0, result.stderr
    assert "lock" not in (result.stdout + result.stderr).lower(), result.stderr


def cli_reads(srv, ids: list[str]) -> None:
    """sql, events tail and keys list all see the same store."""
    listed = srv.sql_list(ids)
    result = srv.cli(
        "sql",
        "--format",
        "json",
        "SELECT event_id, event_name, CAST(value AS DOUBLE) AS value FROM events"  # noqa: S608
        f" WHERE list_contains({listed}, event_id) ORDER BY event_id",
    )
    check_ok(result)
    rows = json.loads(result.stdout)
    assert [r["event_id"] for r in rows] == sorted(ids)
    assert {r["event_name"] for r in rows} == {"cli_check"}
    assert {r["value"] for r in rows} == {12.5}

    result = srv.cli("events", "tail", "--once", "-n", "50")
    check_ok(result)
    assert all(i in result.stdout for i in ids), result.stdout

    result = srv.cli("events", "tail", "--once", "--json", "-n", "50")
    check_ok(result)
    tailed = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert {i for i in ids} <= {e["event_id"] for e in tailed}

    result = srv.cli("keys", "list")
    check_ok(result)
    assert "default" in result.stdout and "e2e-secret" in result.stdout
    assert srv.public_key[:12] in result.stdout  # the prefix, safe to show
    assert srv.public_key not in result.stdout and srv.secret_key not in result.stdout


def test_cli_through_the_running_server_then_on_the_file(new_server):
    srv = new_server()
    events = [srv.event(event_name="cli_check", value=12.5, currency="EUR") for _ in range(3)]
    srv.ingest(events)
    ids = [e["event_id"] for e in events]

    assert (srv.data_dir / "server.json").exists()
    cli_reads(srv, ids)  # the server holds the file: the CLI goes through its admin API

    assert srv.stop() == 0  # a clean shutdown
    assert not (srv.data_dir / "server.json").exists()
    cli_reads(srv, ids)  # now straight on the DuckDB file

    # A crashed server leaves a stale server.json behind: the CLI must not trust it.
    srv.start()
    srv.kill9()
    assert (srv.data_dir / "server.json").exists()
    cli_reads(srv, ids)


def test_sql_refuses_writes(server):
    result = server.cli("sql", "DELETE FROM events", check=False)
    assert result.returncode != 0
    assert "read-only" in result.stderr
    server.assert_intact()


def test_conversions_report_through_the_running_server(new_server):
    """Browser and server copies of one order (different event ids) count once."""
    srv = new_server()
    order = {"type": "conversion", "event_name": "purchase", "order_id": "A-1"}
    srv.ingest(
        [
            srv.event(**order, value=20.0, currency="EUR", anonymous_id="p1"),
            srv.event(**order, value=20.0, currency="EUR", user_id="u1"),
            srv.event(**{**order, "order_id": "A-2"}, value=5.5, currency="EUR", user_id="u1"),
        ]
    )
    out = srv.cli("conversions", "--by", "name", "--format", "json").stdout
    purchase = [r for r in json.loads(out) if r["conversion"] == "purchase"]
    assert [(r["currency"], r["count"], r["value"]) for r in purchase] == [("EUR", 2, 25.5)]
