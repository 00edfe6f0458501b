"""``POST /v1/events`` end to end: auth, content types, what lands in the DuckDB file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)


def epoch_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def key_id_of(server, key: str) -> str:
    rows = server.sql(f"SELECT key_id FROM write_keys WHERE prefix = '{key[:12]}'")  # noqa: S608
    assert len(rows) == 1
    return rows[0]["key_id"]


@pytest.mark.parametrize(
    ("kind", "auth", "content_type", "source"),
    [
        ("secret", "bearer", "application/json", "server"),
        ("secret", "basic", "text/plain", "server"),
        ("public", "bearer", "text/plain;charset=UTF-8", "tag"),
        ("public", "basic", "application/json; charset=utf-8", "tag"),
        ("public", "url", "text/plain", "tag"),
    ],
)
def test_single_event_is_stored(server, kind, auth, content_type, source):
    key = server.secret_key if kind == "secret" else server.public_key
    event = server.event(
        type="conversion",
        event_name="purchase",
        user_id="u-42",
        session_id="sess-1",
        value=129.9,
        currency="EUR",
        order_id="order-1001",
        properties={"plan": "pro", "items": [{"sku": "A-1", "qty": 2}]},
        context={
            "url": "https://shop.example/thanks",
            "referrer": "https://google.com/",
            "title": "Thanks",
            "locale": "de-DE",
        },
        # Ads granted keeps the ids; analytics denied: no cookie (GPC would deny ads).
        consent={"ad_storage": "granted", "analytics_storage": "denied"},
    )
    response = server.post_events(event, key=key, auth=auth, content_type=content_type)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "rejected": 0, "errors": [], "warnings": []}
    server.acked.add(event["event_id"])

    row = server.event_row(event["event_id"])
    assert row["event_name"] == "purchase" and row["type"] == "conversion"
    assert row["source"] == source
    assert row["key_id"] == key_id_of(server, key)
    assert row["anonymous_id"] == event["anonymous_id"] and row["user_id"] == "u-42"
    assert row["session_id"] == "sess-1" and row["order_id"] == "order-1001"
    assert float(row["value"]) == 129.9 and row["currency"] == "EUR"
    assert row["page_url"] == "https://shop.example/thanks"
    assert row["referrer"] == "https://google.com/"
    assert row["page_title"] == "Thanks" and row["locale"] == "de-DE"
    assert json.loads(row["properties"]) == event["properties"]
    assert json.loads(row["consent"]) == event["consent"]
    assert row["ip"] == "127.0.0.1"
    assert row["user_agent"].startswith("python-httpx/")


def test_batch_is_stored_whole(server):
    events = [server.event(event_name=f"step_{i}", properties={"i": i}) for i in range(50)]
    response = server.post_events(
        {"events": events}, key=server.public_key, auth="basic", content_type="text/plain"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"], body["errors"]) == (50, 0, [])
    # The default plan does not know step_*: stored, with a warning per event (policy warn).
    assert [(w["index"], w["path"]) for w in body["warnings"]] == [
        (i, "/event_name") for i in range(50)
    ]
    server.acked.update(e["event_id"] for e in events)
    assert server.id_counts(e["event_id"] for e in events) == {e["event_id"]: 1 for e in events}
    rows = server.sql(
        "SELECT event_name, CAST(json_extract(properties, '$.i') AS INTEGER) AS i FROM events"  # noqa: S608
        f" WHERE list_contains({server.sql_list(e['event_id'] for e in events)}, event_id)"
    )
    assert sorted((r["i"], r["event_name"]) for r in rows) == [(i, f"step_{i}") for i in range(50)]


def test_a_batch_of_exactly_the_limit_is_accepted(server):
    server.ingest([server.event() for _ in range(1000)], content_type="text/plain")


def test_defaults_for_page_and_missing_id(server):
    response = server.post_events(
        {"type": "page", "anonymous_id": "anon-default", "context": {"url": "https://x.example/a"}}
    )
    assert response.status_code == 200, response.text
    rows = server.sql(
        "SELECT event_id, event_name, type, currency FROM events"
        " WHERE anonymous_id = 'anon-default'"
    )
    assert len(rows) == 1
    assert rows[0]["event_name"] == "page_view" and rows[0]["type"] == "page"
    assert rows[0]["event_id"]  # the server made one up
    assert rows[0]["currency"] is None  # no value, no default currency
    server.acked.add(rows[0]["event_id"])


def test_default_currency_applies_to_values(server):
    event = server.event(value=10)
    server.ingest([event])
    assert server.event_row(event["event_id"])["currency"] == "USD"


def test_secret_key_may_report_ip_and_user_agent_public_key_may_not(server):
    context = {"ip": "203.0.113.9", "user_agent": "Backend-Reported/1.0"}
    trusted, browser = server.event(context=context), server.event(context=context)
    server.ingest([trusted], key=server.secret_key)
    server.ingest([browser], key=server.public_key)
    row = server.event_row(trusted["event_id"])
    assert (row["ip"], row["user_agent"]) == ("203.0.113.9", "Backend-Reported/1.0")
    row = server.event_row(browser["event_id"])
    assert row["ip"] == "127.0.0.1"  # the request's address, not the claimed one
    assert row["user_agent"].startswith("python-httpx/")


def test_secret_key_in_url_is_refused(server):
    event = server.event()
    response = server.post_events(event, key=server.secret_key, auth="url")
    server.expect_error(response, 401, "secret_key_in_url")
    assert server.id_counts([event["event_id"]]) == {}


def test_clock_skew_is_corrected_with_sent_at(server):
    # The client's clock is off; it stamped the event at T0 and sent it 30 s later.
    event = server.event(timestamp=T0.isoformat(), sent_at=(T0 + timedelta(seconds=30)).isoformat())
    server.ingest([event])
    row = server.sql(
        "SELECT epoch_us(received_at) - epoch_us(occurred_at) AS lag_us,"  # noqa: S608
        " epoch_ms(client_timestamp) AS client_ms, epoch_ms(sent_at) AS sent_ms"
        f" FROM events WHERE event_id = '{event['event_id']}'"
    )[0]
    assert row["lag_us"] == 30_000_000
    assert row["client_ms"] == epoch_ms(T0)
    assert row["sent_ms"] == epoch_ms(T0) + 30_000


def test_batch_sent_at_in_epoch_ms_applies_to_each_event(server):
    first = server.event(timestamp=epoch_ms(T0))
    second = server.event(timestamp=epoch_ms(T0) - 10_000)
    response = server.post_events({"events": [first, second], "sent_at": epoch_ms(T0) + 5_000})
    assert response.status_code == 200 and response.json()["accepted"] == 2, response.text
    server.acked.update([first["event_id"], second["event_id"]])
    both = server.sql_list([first["event_id"], second["event_id"]])
    rows = server.sql(
        "SELECT event_id, epoch_us(received_at) - epoch_us(occurred_at) AS lag_us"  # noqa: S608
        f" FROM events WHERE list_contains({both}, event_id)"
    )
    lags = {r["event_id"]: r["lag_us"] for r in rows}
    assert lags == {first["event_id"]: 5_000_000, second["event_id"]: 15_000_000}


def test_without_sent_at_the_client_timestamp_is_kept(server):
    event = server.event(timestamp="2024-05-01T12:00:00+02:00")
    server.ingest([event])
    row = server.sql(
        "SELECT epoch_ms(occurred_at) AS occurred_ms, sent_at FROM events"  # noqa: S608
        f" WHERE event_id = '{event['event_id']}'"
    )[0]
    assert row["occurred_ms"] == epoch_ms(T0)  # 12:00+02:00 is 10:00 UTC
    assert row["sent_at"] is None


def test_client_clock_ahead_is_accepted_when_sent_at_explains_it(server):
    ahead = datetime.now(UTC) + timedelta(days=2)
    skewed = server.event(
        timestamp=(ahead - timedelta(seconds=5)).isoformat(), sent_at=ahead.isoformat()
    )
    server.ingest([skewed])
    row = server.sql(
        "SELECT epoch_us(received_at) - epoch_us(occurred_at) AS lag_us FROM events"  # noqa: S608
        f" WHERE event_id = '{skewed['event_id']}'"
    )[0]
    assert row["lag_us"] == 5_000_000
    # Without sent_at the same timestamp is simply in the future: rejected, with its path.
    future = server.event(timestamp=ahead.isoformat())
    error = server.expect_error(server.post_events(future), 422, "no_valid_events")
    assert error["details"][0]["path"] == "/timestamp"


def test_personal_data_is_hashed_and_never_stored_raw(server):
    email, phone = "  Jane.Doe+E2E@Example.COM ", "+1 (650) 253-0099"
    event = server.event(identifiers={"email": email, "phone": phone, "external_id": " CRM-42 "})
    server.ingest([event])
    row = server.event_row(event["event_id"])
    assert row["email_sha256"] == server.sha256("jane.doe+e2e@example.com")
    assert row["phone_sha256"] == server.sha256("16502530099")  # E.164 digits
    assert row["external_id_sha256"] == server.sha256("crm-42")
    assert row["pii_raw"] is None
    stored = json.dumps(row).lower()
    for raw in ("jane.doe", "example.com", "650253", "crm-42"):
        assert raw not in stored, raw


def test_an_already_hashed_email_is_kept(server):
    digest = server.sha256("someone@example.org")
    event = server.event(identifiers={"email": digest})
    server.ingest([event])
    assert server.event_row(event["event_id"])["email_sha256"] == digest


CLICK_IDS = {
    "gclid": "Cj0KCQjw-AbCdEf_GhIjKlMnOp",
    "gbraid": "0AAAAAxYzAbC",
    "wbraid": "ClkKCQjwMixed_Case-Id",
    "dclid": "CJa-DcLiD_x",
    "fbclid": "IwAR3xYzAbC-dEfGh_IjK",
    "ttclid": "E.C.P.CqgBAbCdEf",
    "msclkid": "6a1B2c3D4e5F6a7B8c9D",
    "li_fat_id": "a1B2-c3D4",
    "twclid": "2AbCdEfGh",
    "ScCid": "ScC-Id_9xY",
    "epik": "dj0yJnU9AbC",
    "rdt_cid": "T2_AbC-123",
    "irclickid": "Wc3AbCdEf0",
    "gclsrc": "aw.ds",
    "gad_source": "1",
    "gad_campaignid": "2171234567",
}
UTMS = {
    "utm_source": "Google",
    "utm_medium": "CPC",
    "utm_campaign": "Spring_Sale",
    "utm_term": "Running Shoes",
    "utm_content": "Ad-B",
    "utm_id": "cmp-7",
}


def test_click_ids_and_utms_are_stored_verbatim(server):
    event = server.event(campaign={**CLICK_IDS, **UTMS, "click_at": T0.isoformat()})
    server.ingest([event])
    row = server.event_row(event["event_id"])
    for name, value in {**CLICK_IDS, **UTMS}.items():
        assert row[name] == value, name
    clicked = server.sql(
        f"SELECT epoch_ms(click_at) AS ms FROM events WHERE event_id = '{event['event_id']}'"  # noqa: S608
    )
    assert clicked[0]["ms"] == epoch_ms(T0)


def test_cors_preflight_and_headers(server):
    origin = "https://shop.example"
    preflight = server.http.options(server.url + "/v1/events", headers={"origin": origin})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == origin
    event = server.event()
    response = server.post_events(
        event,
        key=server.public_key,
        auth="url",
        content_type="text/plain",
        headers={"origin": origin},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    server.acked.add(event["event_id"])
