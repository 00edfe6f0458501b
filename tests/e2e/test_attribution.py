"""The attribution report over HTTP and through the CLI, on a real server (default plan)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from journey_wire import journey_events
from live_server import Server, expect_error, running_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("attr")) as server:
        server.ingest(journey_events())
        yield server


def report(srv: Server, **params: str | list[str]) -> httpx.Response:
    return srv.http.get(srv.url + "/v1/reports/attribution", params=params,
                        headers=srv._admin_auth())  # fmt: skip


def test_report_over_http(srv: Server) -> None:
    response = report(srv, model=["first_touch", "last_touch"], to="2024-05-21")
    assert response.status_code == 200, response.text
    body = response.json()
    got = {(r["model"], r["label"]): (r["conversions"], r["revenue"]) for r in body["rows"]}
    assert got == {
        ("first_touch", "Paid Search"): (1.0, 120.0),
        ("first_touch", "Organic Search"): (1.0, 30.0),
        ("last_touch", "Email"): (1.0, 120.0),
        ("last_touch", "Organic Search"): (1.0, 30.0),
    }
    assert body["totals"]["conversions"] == 2 and body["currency"] == "USD"
    assert [p["path"] for p in body["paths"]["top"]] == [
        ["Organic Search"],
        ["Paid Search", "Email"],
    ]


def test_compare_runs_every_model(srv: Server) -> None:
    body = report(srv, compare="true").json()
    models = [m["model"] for m in body["models"]]
    assert {"markov", "shapley", "linear", "time_decay"} <= set(models)
    for model in models:
        total = sum(r["conversions"] for r in body["rows"] if r["model"] == model)
        assert total == pytest.approx(2.0), model


def test_auth_and_bad_parameters(srv: Server) -> None:
    url = srv.url + "/v1/reports/attribution"
    expect_error(srv.http.get(url), 401, "unauthorised")
    expect_error(srv.http.get(url, headers={"authorization": "Bearer nope"}), 401, "unauthorised")
    for params, code in (
        ({"model": "nope"}, "unknown_model"),
        ({"model": "time_decay:half_life_days=-1"}, "invalid_model_option"),
        ({"model": "markov:colour=red"}, "unknown_model_option"),
        ({"by": "planet"}, "invalid_report_parameter"),
        ({"from": "2024-13-01"}, "invalid_date"),
        ({"from": "2024-05-02", "to": "2024-05-01"}, "invalid_report_parameter"),
        ({"colour": "red"}, "invalid_report_parameter"),
    ):
        expect_error(report(srv, **params), 400, code)
    expect_error(srv.http.post(url, headers=srv._admin_auth()), 405, "method_not_allowed")
    assert srv.get("/readyz").status_code == 200


def test_cli_through_the_server_matches_the_api(srv: Server) -> None:
    cli = srv.cli("attribute", "--model", "linear", "--by", "source_medium", "--format", "json")
    api = report(srv, model="linear", by="source_medium").json()
    assert json.loads(cli.stdout) == api
    table = srv.cli("attribute", "--compare", "--paths").stdout
    assert "conversions by model" in table and "top converting paths" in table


def test_save_credits_through_the_server(srv: Server) -> None:
    saved = srv.cli("attribute", "--save", "--model", "linear", "--model", "markov")
    assert "rows written" in saved.stdout
    rows = srv.sql("SELECT model, round(sum(credit), 6) AS c FROM conversion_credits "
                   "GROUP BY model ORDER BY model")  # fmt: skip
    assert rows == [{"model": "linear", "c": 2.0}, {"model": "markov", "c": 2.0}]


def test_cli_without_a_server(srv: Server, tmp_path: Path) -> None:
    """The same report from the DuckDB file once no server holds it."""
    api = report(srv, model="position_based").json()
    srv.stop()
    try:
        cli = srv.cli("attribute", "--model", "position_based", "--format", "json")
        assert json.loads(cli.stdout) == api
        csv = srv.cli("attribute", "--model", "position_based", "--format", "csv").stdout
        assert (
            csv.splitlines()[0]
            == "model,channel,bucket,conversions,revenue,currency,spend,cpa,roas"
        )
    finally:
        srv.start()


def test_people_rebuild_and_show_through_the_server(srv: Server) -> None:
    rebuilt = srv.cli("people", "rebuild").stdout
    assert "persons" in rebuilt and "events" in rebuilt
    shown = json.loads(srv.cli("people", "show", "--anonymous-id", "p1", "--format", "json").stdout)
    assert [(i["kind"], i["value"]) for i in shown["identifiers"]] == [("anonymous_id", "p1")]
    assert {e["event_name"] for e in shown["events"]} == {"page_view", "purchase"}
    missing = srv.cli("people", "show", "--user-id", "nobody", check=False)
    assert missing.returncode != 0 and "No person has this user_id" in missing.stderr
    body = report(srv, model="linear").json()
    assert "journeys follow stitched people (identity_people)" in body["notes"]
