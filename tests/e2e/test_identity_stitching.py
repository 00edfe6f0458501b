"""Identity stitched as events arrive, on a real server: a phone click and a laptop purchase
that share a login are one person, and attribution credits the phone's click — no rebuild."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from live_server import Server, make_event, new_id, running_server

T0 = datetime(2024, 5, 20, 12, 0, tzinfo=UTC)
SITE = "https://shop.example.com"
GRANTED = {key: "granted" for key in ("ad_storage", "analytics_storage", "ad_user_data",
                                      "ad_personalization")}  # fmt: skip


def at(days_before: float) -> str:
    return (T0 - timedelta(days=days_before)).isoformat()


def page(anonymous_id: str, days_before: float, **fields: object) -> dict[str, object]:
    return make_event(type="page", event_name="page_view", anonymous_id=anonymous_id,
                      timestamp=at(days_before), consent=GRANTED,
                      context={"url": SITE + "/", "user_agent": f"UA {anonymous_id}"},
                      **fields)  # fmt: skip


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("stitch")) as server:
        yield server


def test_a_cross_device_journey_is_stitched_at_ingest(srv: Server, tmp_path: Path) -> None:
    phone, laptop = "phone-" + new_id("a")[-8:], "laptop-" + new_id("a")[-8:]
    click = {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring",
             "gclid": "G-phone", "click_at": at(10)}  # fmt: skip
    srv.ingest([page(phone, 10, campaign=click), page(phone, 9.9, user_id="shopper-1")])
    srv.ingest([page(laptop, 1)])  # a separate request: another commit
    srv.ingest([
        page(laptop, 0.5, user_id="shopper-1"),
        make_event(event_name="purchase", type="conversion", anonymous_id=laptop,
                   user_id="shopper-1", timestamp=at(0), order_id=new_id("o"), value=80,
                   currency="USD", consent=GRANTED,
                   context={"url": SITE + "/thanks", "user_agent": f"UA {laptop}"}),
    ])  # fmt: skip

    people = srv.sql(
        "SELECT anonymous_id, person_id FROM identity_people"  # noqa: S608
        f" WHERE anonymous_id IN ('{phone}', '{laptop}') ORDER BY anonymous_id"
    )
    assert [p["anonymous_id"] for p in people] == sorted([phone, laptop])
    assert len({p["person_id"] for p in people}) == 1  # one person, with no rebuild
    merges = srv.sql("SELECT via_kind, via_value FROM identity_merges")
    assert merges == [{"via_kind": "user_id", "via_value": "shopper-1"}]

    response = srv.http.get(
        srv.url + "/v1/reports/attribution",
        params={"model": ["first_touch", "last_touch"], "to": "2024-05-21"},
        headers=srv._admin_auth(),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    got = {(r["model"], r["label"]): r["conversions"] for r in body["rows"]}
    # the laptop's own visit was direct: without stitching, first touch would say Direct
    assert got == {("first_touch", "Paid Search"): 1.0, ("last_touch", "Direct"): 1.0}
    (journey,) = body["paths"]["top"]  # one cross-device journey, the phone's click first
    assert journey["path"][0] == "Paid Search" and len(journey["path"]) == 4
    assert "journeys follow stitched people (identity_people)" in body["notes"]

    shown = json.loads(srv.cli("people", "show", "--user-id", "shopper-1", "--format",
                               "json").stdout)  # fmt: skip
    assert shown["person_id"] == people[0]["person_id"]
    assert [(d["anonymous_id"], d["user_agent"]) for d in shown["devices"]] == [
        (phone, f"UA {phone}"), (laptop, f"UA {laptop}"),
    ]  # fmt: skip
    assert {e["event_name"]: e["events"] for e in shown["events"]} == {
        "page_view": 4, "purchase": 1,
    }  # fmt: skip
    assert sum(c["events"] for c in shown["consent"]) == 5


def test_one_bad_user_id_does_not_merge_a_hundred_browsers(srv: Server) -> None:
    browsers = [f"kiosk-{n:03d}-" + new_id("b")[-6:] for n in range(100)]
    for chunk in range(0, 100, 25):  # several commits
        srv.ingest([page(b, 1, user_id="undefined") for b in browsers[chunk : chunk + 25]])
    names = ", ".join(f"'{b}'" for b in browsers)
    rows = srv.sql(
        "SELECT person_id, count(*) AS n FROM identity_people"  # noqa: S608
        f" WHERE anonymous_id IN ({names}) GROUP BY person_id ORDER BY n DESC"
    )
    assert rows[0]["n"] == 20 and len(rows) == 81  # the cap, and the other 80 apart
    refused = srv.sql(
        "SELECT reason, count(*) AS n FROM identity_refused"
        " WHERE via_value = 'undefined' GROUP BY reason"
    )
    assert refused == [{"reason": "max_person_anonymous_ids", "n": 80}]
