"""``GET /p.gif`` and ``GET /p``: always the GIF; good hits stored, bad hits quarantined."""

from __future__ import annotations

import json

import pytest

UA = "Mozilla/5.0 (E2E Pixel Test) Gecko/20100101"


def by_anon(server, anon: str) -> list[dict]:
    return server.sql(f"SELECT * FROM events WHERE anonymous_id = '{anon}'")  # noqa: S608


def quarantined(server, anon: str) -> list[dict]:
    rows = server.sql(f"SELECT * FROM quarantine WHERE payload LIKE '%{anon}%'")  # noqa: S608
    for row in rows:
        row["payload"] = json.loads(row["payload"])
        row["reasons"] = json.loads(row["reasons"])
    return rows


def test_every_short_name_lands_in_its_column(server):
    anon, event_id = server.new_id("px-anon"), server.new_id("px")
    params = {
        "k": server.public_key,
        "e": "purchase",
        "t": "conversion",
        "id": event_id,
        "ts": "1714557600000",
        "a": anon,
        "u": "user-7",
        "s": "sess-7",
        "v": "49.90",
        "cur": "EUR",
        "oid": "order-7",
        "url": "https://shop.example/thanks?x=1",
        "ref": "https://news.example/",
        "ti": "Thank you",
        "lc": "fr-FR",
        "em": " Pixel.Buyer@E2E-Mail.test ",
        "ph": "+44 20 7946 0000",
        "xid": "CRM-7",
        "utm_source": "Newsletter",
        "utm_medium": "email",
        "utm_campaign": "Spring",
        "utm_term": "Shoes",
        "utm_content": "Hero",
        "gclid": "Cj0KCQ-PixelMixedCase_1",
        "fbclid": "IwAR-PiXeL",
        "msclkid": "AbC123dEf",
        "ScCid": "Sc-CID-x",
        "ca": "1714557000000",
        "ad_storage": "granted",
        "ad_user_data": "denied",
        "p.plan": "pro",
        "p.seats": "3",
        "coupon": "SPRING10",
    }
    server.pixel(params, headers={"user-agent": UA, "referer": "https://ignored.example/"})
    server.flush()
    row = server.event_row(event_id)
    expected = {
        "event_name": "purchase",
        "type": "conversion",
        "source": "pixel",
        "anonymous_id": anon,
        "user_id": "user-7",
        "session_id": "sess-7",
        "currency": "EUR",
        "order_id": "order-7",
        "page_url": "https://shop.example/thanks?x=1",
        "referrer": "https://news.example/",
        "page_title": "Thank you",
        "locale": "fr-FR",
        "utm_source": "Newsletter",
        "utm_medium": "email",
        "utm_campaign": "Spring",
        "utm_term": "Shoes",
        "utm_content": "Hero",
        "gclid": "Cj0KCQ-PixelMixedCase_1",
        "fbclid": "IwAR-PiXeL",
        "msclkid": "AbC123dEf",
        "ScCid": "Sc-CID-x",
        "ip": "127.0.0.1",
        "user_agent": UA,
        "email_sha256": server.sha256("pixel.buyer@e2e-mail.test"),
        "phone_sha256": server.sha256("442079460000"),
        "external_id_sha256": server.sha256("crm-7"),
        "pii_raw": None,
    }
    assert {k: row[k] for k in expected} == expected
    assert float(row["value"]) == 49.9
    assert json.loads(row["properties"]) == {"plan": "pro", "seats": "3", "coupon": "SPRING10"}
    assert json.loads(row["consent"]) == {"ad_storage": "granted", "ad_user_data": "denied"}
    times = server.sql(
        "SELECT epoch_ms(client_timestamp) AS ts, epoch_ms(click_at) AS ca"  # noqa: S608
        f" FROM events WHERE event_id = '{event_id}'"
    )[0]
    assert times == {"ts": 1714557600000, "ca": 1714557000000}
    assert "pixel.buyer" not in json.dumps(row).lower()


def test_short_path_defaults_to_a_page_view_from_the_referer(server):
    anon = server.new_id("px-page")
    server.pixel(
        {"k": server.public_key, "a": anon},
        path="/p",
        headers={"user-agent": UA, "referer": "https://blog.example/post-1"},
    )
    server.flush()
    rows = by_anon(server, anon)
    assert len(rows) == 1
    row = rows[0]
    assert (row["type"], row["event_name"], row["source"]) == ("page", "page_view", "pixel")
    assert row["page_url"] == "https://blog.example/post-1"
    assert row["user_agent"] == UA and row["ip"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"e": "buy", "v": "abc"}, "/value"),
        ({"e": "buy", "v": "10", "cur": "euro"}, "/currency"),
        ({"e": "buy", "t": "bogus"}, "/type"),
        ({"e": "buy", "ts": "yesterday"}, "/timestamp"),
        ({"e": "buy", "ts": "32503680000000"}, "/timestamp"),  # year 3000: in the future
        ({"e": "buy", "utm_source": "x" * 300}, "/campaign/utm_source"),
        ({"e": "buy", "ad_storage": "maybe"}, "/consent/ad_storage"),
        ({"e": "x" * 200}, "/event_name"),
    ],
)
def test_bad_parameters_still_get_the_gif_and_are_quarantined(server, params, path):
    anon = server.new_id("px-bad")
    email = "Quarantined.Pixel@E2E-Mail.test"
    server.pixel({"k": server.public_key, "a": anon, "em": email, **params})
    server.flush()
    assert by_anon(server, anon) == []
    rows = quarantined(server, anon)
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["source"] == "pixel" and row["key_id"]
    assert [r["path"] for r in row["reasons"]] == [path]
    assert row["reasons"][0]["reason"]
    assert row["payload"]["identifiers"] == {"email_sha256": server.sha256(email.lower())}
    assert "quarantined.pixel" not in json.dumps(row).lower()


@pytest.mark.parametrize(
    "variant", ["no key", "unknown key", "secret key", "empty query", "garbage query"]
)
def test_hits_without_a_valid_key_get_the_gif_and_store_nothing(server, variant):
    anon = server.new_id("px-nokey")
    query = {
        "no key": f"e=buy&a={anon}",
        "unknown key": f"k=ctk_pub_unknown&e=buy&a={anon}",
        "secret key": f"k={server.secret_key}&e=buy&a={anon}",
        "empty query": "",
        "garbage query": f"%%%&&==&k&a={anon}&%ZZ=%G0",
    }[variant]
    for path in ("/p.gif", "/p"):
        response = server.http.get(f"{server.url}{path}?{query}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/gif"
        assert len(response.content) == 43
        assert "no-store" in response.headers["cache-control"]
    server.flush()
    assert by_anon(server, anon) == [] and quarantined(server, anon) == []
    server.assert_intact()


def test_oversized_and_odd_requests_still_get_the_gif(server):
    anon = server.new_id("px-big")
    server.pixel({"k": server.public_key, "a": anon, "e": "big", "p.blob": "y" * 6000})
    server.pixel({"k": server.public_key, **{f"p.f{i}": str(i) for i in range(300)}})
    response = server.http.post(server.url + "/p.gif", content=b"ignored")
    assert response.status_code == 200 and response.headers["content-type"] == "image/gif"
    server.flush()
    rows = quarantined(server, anon)  # a property string over 4096 characters
    assert [r["reasons"][0]["path"] for r in rows] == ["/properties"]
    server.assert_intact()


def test_status_polls_during_pixel_traffic_lose_nothing(server):
    """Regression: /v1/admin/status once raced the writer and aborted every later commit."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    anon = server.new_id("px-race")
    statuses: list[int] = []

    def poll() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for _ in range(40):
                r = client.get("/v1/admin/status", headers=server._admin_auth())
                statuses.append(r.status_code)

    def hits(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for i in range(150):
                params = {
                    "k": server.public_key,
                    "e": "race",
                    "a": anon,
                    "id": f"{anon}-{worker}-{i}",
                }
                assert client.get("/p.gif", params=params).status_code == 200

    with ThreadPoolExecutor(5) as pool:
        jobs = [pool.submit(poll)] + [pool.submit(hits, w) for w in range(4)]
        for job in jobs:
            job.result()
    server.flush()
    assert statuses == [200] * 40
    assert len(by_anon(server, anon)) == 600
