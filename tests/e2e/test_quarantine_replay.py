"""Quarantine and replay on a real server: events the plan rejects are kept, and once the plan
is fixed ``convtrack quarantine replay`` stores them, once, whether it runs through the server
or on the store itself."""

from __future__ import annotations

import json

STRICT = """\
version: "strict-1"
unknown_events: quarantine
events:
  - name: flush  # what Server.flush sends
  - name: purchase
    properties:
      order_id: {type: string}
      value: {type: number}
    required: [order_id, value]
"""
FIXED = """\
version: "fixed-2"
unknown_events: accept
events:
  - name: purchase
    properties:
      order_id: {type: string}
      value: {type: number}
    required: [value]
"""


def cli_json(srv, *args: str) -> dict:
    return json.loads(srv.cli("quarantine", *args, "--format", "json").stdout)


def quarantine_ids(srv) -> dict[str, str]:
    """event_name or payload event_id → reject_id, for every quarantined row."""
    rows = cli_json(srv, "list", "--limit", "100")["rows"]
    return {r["reject_id"]: r for r in rows}


def test_quarantine_list_show_and_replay_after_the_plan_is_fixed(new_server, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(STRICT)
    srv = new_server({"CONVTRACK_PLAN": str(plan)})

    good = srv.event(event_name="purchase", order_id="o-1", value=10)
    no_order = srv.event(event_name="purchase", value=20, identifiers={"email": "A@B.example"})
    unknown = srv.event(event_name="signup")
    del unknown["event_id"]  # replay gives it a deterministic id
    sent_at = "2024-05-01T12:00:00Z"
    response = srv.post_events({"events": [good, no_order, unknown], "sent_at": sent_at})
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["rejected"]) == (1, 2)
    srv.acked.add(good["event_id"])
    srv.pixel({"k": srv.public_key, "e": "purchase", "a": "anon-px", "v": "5"})
    srv.flush()

    # -- inspect, through the running server ---------------------------------------------
    listed = cli_json(srv, "list")
    rows = {r["event_name"] + "/" + r["source"]: r for r in listed["rows"]}
    assert set(rows) == {"purchase/server", "signup/server", "purchase/pixel"}
    assert all(r["status"] == "quarantined" for r in listed["rows"])
    assert all(r["plan_version"] == "strict-1" for r in listed["rows"])
    assert {r["path"] for r in listed["top_reasons"]} >= {"/event_name", "/order_id"}
    pixel_only = cli_json(srv, "list", "--source", "pixel")["rows"]
    assert [r["reject_id"] for r in pixel_only] == [rows["purchase/pixel"]["reject_id"]]
    by_reason = cli_json(srv, "list", "--reason", "not in tracking plan", "--since", "1h")
    assert [r["event_name"] for r in by_reason["rows"]] == ["signup"]
    table = srv.cli("quarantine", "list", "--status", "quarantined").stdout
    assert "top reasons:" in table and rows["purchase/pixel"]["reject_id"] in table

    bad_id = rows["purchase/server"]["reject_id"]
    shown = cli_json_show(srv, bad_id)
    assert shown["payload"]["event_id"] == no_order["event_id"]
    assert "A@B.example" not in json.dumps(shown)  # identifiers were hashed in quarantine
    assert shown["ip"] == "127.0.0.1" and shown["batch_sent_at"]
    missing = srv.cli("quarantine", "show", "nope", check=False)
    assert missing.returncode == 2 and "nope" in missing.stderr

    # -- replay against the strict plan: nothing passes yet ------------------------------
    result = cli_json(srv, "replay", "--all")
    assert result["counts"] == {"still_invalid": 3} and result["plan_version"] == "strict-1"

    # -- fix the plan; replay one event on the store itself, with the server stopped -----
    plan.write_text(FIXED)
    assert srv.stop() == 0
    dry = cli_json(srv, "replay", "--all", "--dry-run")
    assert dry["counts"] == {"would_replay": 3} and dry["plan_version"] == "fixed-2"
    one = cli_json(srv, "replay", bad_id)
    assert one["counts"] == {"replayed": 1}
    assert one["outcomes"][0]["event_id"] == no_order["event_id"]
    assert cli_json(srv, "replay", bad_id)["counts"] == {"not_quarantined": 1}

    # -- and the rest through the server, running the fixed plan -------------------------
    srv.start()
    result = cli_json(srv, "replay", "--all")
    assert result["counts"] == {"replayed": 2}
    again = cli_json(srv, "replay", "--all")
    assert again["counts"] == {}
    named = cli_json(srv, "replay", *rows_ids(rows))
    assert named["counts"] == {"not_quarantined": 3}

    replayed = cli_json(srv, "list", "--status", "replayed")["rows"]
    assert len(replayed) == 3 and all(r["replayed_event_id"] for r in replayed)
    event_ids = [r["replayed_event_id"] for r in replayed]
    assert srv.id_counts(event_ids) == {i: 1 for i in event_ids}
    stored = srv.event_row(no_order["event_id"])
    assert stored["plan_version"] == "fixed-2" and stored["source"] == "server"
    assert stored["email_sha256"] == srv.sha256("a@b.example")
    assert stored["ip"] == "127.0.0.1"
    assert srv.event_row(good["event_id"])["plan_version"] == "strict-1"
    srv.acked.update(event_ids)
    srv.assert_intact()


def cli_json_show(srv, reject_id: str) -> dict:
    return json.loads(srv.cli("quarantine", "show", reject_id).stdout)


def rows_ids(rows: dict[str, dict]) -> list[str]:
    return [r["reject_id"] for r in rows.values()]
