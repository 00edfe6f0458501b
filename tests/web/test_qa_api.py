"""``/v1/qa/*`` on a live ``convtrack serve``: admin token required, JSON shapes, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from live_server import Server, expect_error, make_event, running_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # its logs stay clean: the background alert check never logged a failure
    with running_server(tmp_path_factory.mktemp("qa")) as server:
        server.ingest([make_event(event_name="qa_probe") for _ in range(3)])
        yield server


def auth(srv: Server) -> dict[str, str]:
    token = (Path(srv.data_dir) / "admin.token").read_text().strip()
    return {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["health", "anomalies", "alerts", "modeled"])
def test_every_qa_endpoint_needs_the_admin_token(srv: Server, path: str) -> None:
    expect_error(srv.get(f"/v1/qa/{path}"), 401, "unauthorised")
    assert srv.get(f"/v1/qa/{path}", headers=auth(srv)).status_code == 200


def test_health_counts_what_was_ingested(srv: Server) -> None:
    body = srv.get("/v1/qa/health", headers=auth(srv)).json()
    assert body["volume"]["events"] >= 3 and body["volume"]["per_minute"]
    assert set(body) == {"window", "volume", "quarantine", "conversions", "dedup", "destinations"}
    assert body["dedup"]["since_start"]["received"] >= 3


def test_modeled_and_anomalies_answer_json(srv: Server) -> None:
    modeled = srv.get("/v1/qa/modeled", headers=auth(srv)).json()
    assert modeled["observed"] == {"consented": 0, "pseudonymous": 0} and modeled["modeled"] == 0
    anomalies = srv.get("/v1/qa/anomalies?hours=48", headers=auth(srv)).json()
    assert (
        anomalies["anomalies"] == [] and anomalies["checked"]["from"] < anomalies["checked"]["to"]
    )
    assert srv.get("/v1/qa/alerts", headers=auth(srv)).json()["alerts"] == []


def test_anomalies_chart_the_busiest_series_hour_by_hour(srv: Server) -> None:
    body = srv.get("/v1/qa/anomalies?hours=3&series=1", headers=auth(srv)).json()
    assert body["anomalies"] == [] and len(body["series"]) <= 1
    for s in body["series"]:
        assert len(s["points"]) == 3 and s["anomalies"] == 0
        assert set(s["points"][0]) == {"hour", "observed", "forecast", "lower", "upper"}
    none = srv.get("/v1/qa/anomalies?series=0", headers=auth(srv)).json()
    assert none["series"] == []


def test_bad_parameters_get_the_error_shape(srv: Server) -> None:
    expect_error(srv.get("/v1/qa/health?from=yesterday", headers=auth(srv)), 400, "bad_parameter")
    expect_error(srv.get("/v1/qa/anomalies?hours=0", headers=auth(srv)), 400, "bad_parameter")
    expect_error(srv.get("/v1/qa/anomalies?series=21", headers=auth(srv)), 400, "bad_parameter")
    r = srv.http.post(srv.url + "/v1/qa/health", headers=auth(srv))
    expect_error(r, 405, "method_not_allowed")
