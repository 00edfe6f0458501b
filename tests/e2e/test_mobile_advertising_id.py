"""Install matching by advertising id on a live server: an ad network fills the device's GAID /
IDFA into a click link (``/c/<id>?gaid=…``), the app's install carries the same id from
another anonymous id (native ``identifiers.advertising_id`` or Segment's
``context.device.advertisingId``), and attribution credits the link's campaign. The zero id,
tracking switched off and denied ads consent match nothing; the raw id is never stored; an
erasure by the id takes the device's whole person."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from live_server import Server, new_id, running_server

PLAY = "https://play.google.com/store/apps/details?id=com.shop.app"
STORE = "https://apps.apple.com/app/id525463029"
ZERO = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("adid")) as server:
        yield server


def device_id() -> str:
    return str(uuid.uuid4()).upper()  # as an SDK may send it: the hash is of the lower case


def digest(advertising_id: str) -> str:
    return hashlib.sha256(advertising_id.lower().encode()).hexdigest()


def click(srv: Server, platform: str, campaign: str, query: dict[str, str]) -> dict[str, Any]:
    """Create a link, follow it as an ad network's click redirect would; the stored click."""
    to = PLAY if platform == "android" else STORE
    out = srv.cli("links", "create", "--to", to, "--campaign", campaign, "--source", "adnet",
                  "--platform", platform)  # fmt: skip
    path = out.stdout.strip()[len(srv.url) :]
    srv.http.cookies.clear()  # each click from another device: no shared ct_aid cookie
    response = srv.http.get(srv.url + path, params=query, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert not {"gaid", "idfa"} & set(parse_qs(location.query)), "the id is not passed on"
    rows = srv.sql(
        "SELECT * FROM events WHERE event_name = 'link_click'"  # noqa: S608
        f" AND utm_campaign = '{campaign}'"
    )
    assert len(rows) == 1, rows
    return rows[0]


def native_install(srv: Server, identifiers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    event = {
        "event_id": new_id("install"),
        "event_name": "app_install",
        "anonymous_id": "app-" + uuid.uuid4().hex,
        "identifiers": identifiers,
        **fields,
    }
    srv.ingest([event])
    return srv.event_row(event["event_id"])


def segment_install(srv: Server, device: dict[str, Any]) -> dict[str, Any]:
    key = srv.create_key("app-" + uuid.uuid4().hex[:6])
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    message_id = str(uuid.uuid4())
    body = {"type": "track", "event": "Application Installed", "messageId": message_id,
            "anonymousId": "rudder-" + uuid.uuid4().hex,
            "context": {"device": {"id": "vendor-id", **device}}}  # fmt: skip
    response = srv.http.post(srv.url + "/v1/track", json=body, headers={"authorization": auth})
    assert response.status_code == 200, response.text
    return srv.event_row(message_id)


def credited(srv: Server) -> dict[str, float]:
    report = srv.http.get(
        srv.url + "/v1/reports/attribution",
        params={"model": "last_touch", "by": "campaign"},
        headers=srv._admin_auth(),
    )
    assert report.status_code == 200, report.text
    return {r["label"]: r["conversions"] for r in report.json()["rows"]}


def person_of(srv: Server, anonymous_id: str) -> str:
    rows = srv.sql(
        f"SELECT person_id FROM identity_people WHERE anonymous_id = '{anonymous_id}'"  # noqa: S608
    )
    return str(rows[0]["person_id"])


def assert_not_stored_raw(srv: Server, raw: str, *event_ids: str) -> None:
    for event_id in event_ids:
        text = str(srv.event_row(event_id)).lower()
        assert raw.lower() not in text and raw.lower().replace("-", "") not in text


def test_a_native_install_is_attributed_to_the_gaid_click(srv: Server) -> None:
    gaid = device_id()
    clicked = click(srv, "android", "Adid Native", {"gaid": gaid})
    install = native_install(srv, {"advertising_id": gaid, "ad_tracking_enabled": True})
    assert clicked["advertising_id_sha256"] == install["advertising_id_sha256"] == digest(gaid)
    assert clicked["anonymous_id"] != install["anonymous_id"]
    assert person_of(srv, clicked["anonymous_id"]) == person_of(srv, install["anonymous_id"])
    assert credited(srv).get("Adid Native") == 1.0
    assert_not_stored_raw(srv, gaid, clicked["event_id"], install["event_id"])


def test_a_segment_install_is_attributed_to_the_idfa_click(srv: Server) -> None:
    idfa = device_id()
    clicked = click(srv, "ios", "Adid Segment", {"idfa": idfa})
    install = segment_install(srv, {"advertisingId": idfa, "adTrackingEnabled": True})
    assert install["event_name"] == "app_install"
    assert install["advertising_id_sha256"] == clicked["advertising_id_sha256"] == digest(idfa)
    assert credited(srv).get("Adid Segment") == 1.0
    assert_not_stored_raw(srv, idfa, clicked["event_id"], install["event_id"])


def test_ids_that_must_not_link_match_nothing(srv: Server) -> None:
    zero_click = click(srv, "android", "Adid Zero", {"gaid": ZERO})
    zero = native_install(srv, {"advertising_id": ZERO})
    assert zero_click["advertising_id_sha256"] is None and zero["advertising_id_sha256"] is None

    off_id = device_id()
    click(srv, "ios", "Adid Tracking Off", {"idfa": off_id})
    off = segment_install(srv, {"advertisingId": off_id, "adTrackingEnabled": False})
    assert off["advertising_id_sha256"] is None

    denied_id = device_id()
    click(srv, "android", "Adid Consent Denied", {"gaid": denied_id})
    denied = native_install(
        srv,
        {"advertising_id": denied_id},
        consent={"ad_storage": "granted", "ad_user_data": "denied"},
    )
    assert denied["advertising_id_sha256"] is None
    assert_not_stored_raw(srv, denied_id, denied["event_id"])

    rows = credited(srv)
    for campaign in ("Adid Zero", "Adid Tracking Off", "Adid Consent Denied"):
        assert campaign not in rows, rows


def test_erase_by_advertising_id_removes_the_device_person(srv: Server) -> None:
    gaid = device_id()
    clicked = click(srv, "android", "Adid Erase", {"gaid": gaid})
    install = native_install(srv, {"advertising_id": gaid})
    auth = {"authorization": f"Bearer {srv.secret_key}"}
    erased = srv.http.post(
        srv.url + "/v1/privacy/erase", json={"advertising_id": gaid.lower()}, headers=auth
    )
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["requested"] == "advertising_id_sha256" and body["deleted"]["events"] == 2
    assert srv.id_counts([clicked["event_id"], install["event_id"]]) == {}
    left = srv.sql(
        "SELECT count(*) AS n FROM identity_identifiers"  # noqa: S608
        f" WHERE value = '{digest(gaid)}' OR value = '{install['anonymous_id']}'"
    )
    assert left[0]["n"] == 0
