"""Mobile installs on a live server: click links (GET /c/<id>), Play install referrers on
install events, and SKAdNetwork postbacks (specs/tracking-protocols.md §8)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from live_server import Server, expect_error

PLAY = "https://play.google.com/store/apps/details?id=com.shop.app"
SHOP = "https://shop.example/sale?ref=1"
SKAN = "/.well-known/skadnetwork/report-attribution/"
# The verified samples of specs §8.3, verbatim (signed by Apple).
SAMPLE_40 = (
    '{"version":"4.0","ad-network-id":"com.example","source-identifier":"39","app-id":525463029,'
    '"transaction-id":"6aafb7a5-0170-41b5-bbe4-fe71dedf1e31","redownload":false,'
    '"source-domain":"example.com","fidelity-type":1,"did-win":true,'
    '"coarse-conversion-value":"high","postback-sequence-index":0,"attribution-signature":'
    '"MEUCIQD4rX6eh38qEhuUKHdap345UbmlzA7KEZ1bhWZuYM8MJwIgMnyiiZe6heabDkGwOaKBYrUXQhKtF3P/ERHqkR/XpuA="}'
)
SAMPLE_30 = (
    '{"version":"3.0","ad-network-id":"example123.skadnetwork","campaign-id":42,'
    '"transaction-id":"6aafb7a5-0170-41b5-bbe4-fe71dedf1e28","app-id":525463029,'
    '"attribution-signature":"MEYCIQD5eq3AUlamORiGovqFiHWI4RZT/PrM3VEiXUrsC+M51wIhAPMANZA9c07raZJ64'
    'gVaXhB9+9yZj/X6DcNxONdccQij","redownload":true,"source-app-id":1234567891,"fidelity-type":1,'
    '"conversion-value":20,"did-win":true}'
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("mobile"), {"CONVTRACK_SKAN_CAMPAIGNS": "39=Spring Sale,42=Launch"}
    )
    try:
        server.start()
        yield server
    finally:
        server.close()
    server.assert_clean_logs()


def create_link(srv: Server, to: str, platform: str, campaign: str = "Spring Sale") -> str:
    out = srv.cli("links", "create", "--to", to, "--campaign", campaign, "--source",
                  "newsletter", "--medium", "email", "--platform", platform)  # fmt: skip
    url = out.stdout.strip()
    assert url.startswith(srv.url + "/c/"), out.stdout
    return url[len(srv.url) :]


def follow(srv: Server, path: str, **kw: Any) -> httpx.Response:
    return srv.http.get(srv.url + path, follow_redirects=False, **kw)


def click_events(srv: Server, click_id: str) -> list[dict[str, Any]]:
    return srv.sql(
        "SELECT * FROM events WHERE event_name = 'link_click'"  # noqa: S608
        f" AND json_extract_string(properties, '$.ct_click') = '{click_id}'"
    )


def test_a_web_link_records_the_click_and_redirects_with_its_id(srv: Server) -> None:
    path = create_link(srv, SHOP, "web")
    response = follow(srv, path, headers={"user-agent": "e2e-browser"})
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "shop.example", "/sale")
    query = parse_qs(location.query)
    assert query["ref"] == ["1"]
    (click_id,) = query["ct_click"]
    cookie = response.cookies.get("ct_aid")
    assert cookie
    (click,) = click_events(srv, click_id)
    assert (click["utm_campaign"], click["utm_source"], click["utm_medium"]) == (
        "Spring Sale", "newsletter", "email",
    )  # fmt: skip
    assert click["anonymous_id"] == cookie and click["source"] == "link"
    again = follow(srv, path, headers={"cookie": f"ct_aid={cookie}"})
    (second,) = parse_qs(urlsplit(again.headers["location"]).query)["ct_click"]
    assert second != click_id  # a fresh click id per click
    assert click_events(srv, second)[0]["anonymous_id"] == cookie  # the visitor's cookie


def test_links_are_listed(srv: Server) -> None:
    path = create_link(srv, SHOP, "ios", "Listed")
    out = json.loads(srv.cli("links", "list", "--format", "json").stdout)
    mine = [x for x in out if x["link_id"] == path.rsplit("/", 1)[1]]
    assert mine and mine[0]["utm_campaign"] == "Listed" and mine[0]["platform"] == "ios"


def test_no_open_redirect(srv: Server) -> None:
    path = create_link(srv, SHOP, "web")
    evil = "https://evil.example/"
    response = follow(srv, path, params={"to": evil, "url": evil, "redirect": evil})
    assert response.headers["location"].startswith("https://shop.example/sale?")
    assert "evil" not in response.headers["location"]
    for bad in ("/c/", "/c/https://evil.example/", "/c//evil.example", "/c/nope",
                path + "/x", "/c/..%2f..%2fevil.example", "/c/%2F%2Fevil.example"):  # fmt: skip
        got = follow(srv, bad)
        assert "location" not in got.headers, bad
        expect_error(got, 404, "link_not_found")
    expect_error(srv.http.post(srv.url + path), 405, "method_not_allowed")
    bad_link = srv.cli("links", "create", "--to", "//evil.example", "--campaign", "x",
                       check=False)  # fmt: skip
    assert bad_link.returncode != 0 and "absolute http(s) URL" in bad_link.stderr


def test_an_install_from_an_android_link_is_attributed_to_its_campaign(srv: Server) -> None:
    path = create_link(srv, PLAY, "android", "Spring Sale")
    location = urlsplit(follow(srv, path).headers["location"])
    assert location.netloc == "play.google.com"
    query = parse_qs(location.query)
    assert query["id"] == ["com.shop.app"]
    (referrer,) = query["referrer"]  # what the Install Referrer API hands the app, decoded
    click_id = parse_qs(referrer)["ct_click"][0]
    # The app, on first open, sends the install with the Play referrer (Segment's SDK shape).
    message_id = str(uuid.uuid4())
    key = srv.create_key("app")
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    props = {"version": "1.0", "referrer": referrer}
    body = {"type": "track", "event": "Application Installed", "anonymousId": "device-1",
            "messageId": message_id, "properties": props}  # fmt: skip
    response = srv.http.post(srv.url + "/v1/track", json=body, headers={"authorization": auth})
    assert response.status_code == 200, response.text
    install = srv.event_row(message_id)
    assert install["event_name"] == "app_install"
    assert (install["utm_campaign"], install["utm_source"]) == ("Spring Sale", "newsletter")
    assert json.loads(install["properties"])["ct_click"] == click_id
    assert len(click_events(srv, click_id)) == 1  # the click it matches, by its id
    report = srv.http.get(
        srv.url + "/v1/reports/attribution",
        params={"model": "last_touch", "by": "campaign"},
        headers=srv._admin_auth(),
    )
    assert report.status_code == 200, report.text
    rows = {r["label"]: r["conversions"] for r in report.json()["rows"]}
    assert rows == {"Spring Sale": 1.0}, rows


def test_skan_postbacks_are_verified_stored_once_and_reported(srv: Server) -> None:
    post = srv.http.post
    for sample in (SAMPLE_40, SAMPLE_30):
        got = post(srv.url + SKAN, content=sample, headers={"content-type": "application/json"})
        assert (got.status_code, got.json()) == (200, {"status": "stored"})
    again = post(srv.url + SKAN, content=SAMPLE_30)
    assert again.json() == {"status": "duplicate"}
    tampered = json.loads(SAMPLE_30) | {"campaign-id": 43, "transaction-id": "forged-1"}
    refused = post(srv.url + SKAN, json=tampered)
    assert (refused.status_code, refused.json()) == (
        200, {"status": "quarantined", "reason": "bad_signature"},
    )  # fmt: skip
    garbage = post(srv.url + SKAN, content=b"not json")
    assert garbage.json()["reason"] == "malformed_json"
    expect_error(srv.http.get(srv.url + SKAN), 405, "method_not_allowed")
    stored = srv.sql("SELECT transaction_id FROM skan_postbacks ORDER BY 1")
    assert [r["transaction_id"] for r in stored] == [
        "6aafb7a5-0170-41b5-bbe4-fe71dedf1e28", "6aafb7a5-0170-41b5-bbe4-fe71dedf1e31",
    ]  # fmt: skip
    srv.flush()
    quarantined = srv.sql("SELECT payload, reasons FROM quarantine WHERE source = 'skan'")
    assert len(quarantined) == 2
    forged = [q for q in quarantined if "forged-1" in q["payload"]]
    assert forged and "does not verify" in str(forged[0]["reasons"])
    report = json.loads(srv.cli("skan", "report", "--format", "json").stdout)
    got = {r["campaign"]: (r["installs"], r["redownloads"]) for r in report}
    assert got == {"Spring Sale": (1, 0), "Launch": (1, 1)}
