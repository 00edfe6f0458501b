"""Click links and SKAdNetwork postbacks in the store (migration 0014), on every engine."""

from __future__ import annotations

from datetime import UTC, date, datetime

from convtrack.collect.links import new_link
from convtrack.reports.skan import by_campaign, summary_query
from convtrack.store import EventStore
from convtrack.store.links_model import SKAN_SUMMARY_COLUMNS, SkanPostback

AT = datetime(2024, 5, 1, 12, tzinfo=UTC)


def postback(tx: str, source: str = "12", **kw: object) -> SkanPostback:
    fields: dict[str, object] = dict(
        transaction_id=tx, received_at=AT, version="4.0", ad_network_id="net",
        source_identifier=source,
        app_id=525463029, source_app_id=None, source_domain="example.com", redownload=False,
        fidelity_type=1, did_win=True, postback_sequence_index=0, conversion_value=None,
        coarse_conversion_value="high", payload='{"version": "4.0"}',
    )  # fmt: skip
    fields.update(kw)
    return SkanPostback(**fields)  # type: ignore[arg-type]


def test_links_round_trip(store: EventStore) -> None:
    link = new_link("https://shop.example/", "Spring Sale", "news", "email")
    store.insert_link(link)
    got = store.get_link(link.link_id)
    assert got is not None
    assert (got.destination, got.utm_campaign, got.platform) == (
        "https://shop.example/", "Spring Sale", "web",
    )  # fmt: skip
    assert got.created_at == link.created_at
    assert store.get_link("nope") is None
    assert [x.link_id for x in store.list_links()] == [link.link_id]


def test_a_postback_is_stored_once_per_transaction(store: EventStore) -> None:
    assert store.insert_skan(postback("t1")) is True
    assert store.insert_skan(postback("t1")) is False
    assert store.insert_skan(postback("t2", redownload=True)) is True
    assert store.insert_skan(postback("t3", "1234", postback_sequence_index=1)) is True
    assert store.insert_skan(postback("t4", "13", did_win=False)) is True
    rows = store.skan_summary(None, None)
    got = {r[0]: dict(zip(SKAN_SUMMARY_COLUMNS, r, strict=True)) for r in rows}
    assert got["12"]["installs"] == 2 and got["12"]["redownloads"] == 1
    assert got["1234"]["installs"] == 0 and got["1234"]["postbacks"] == 1
    assert got["13"]["installs"] == 0  # not the winning network's
    assert store.skan_summary(datetime(2024, 5, 2, tzinfo=UTC), None) == []


def test_the_report_query_names_campaigns(store: EventStore) -> None:
    store.insert_skan(postback("t1"))
    store.insert_skan(postback("t2", "1234"))
    store.insert_skan(postback("t3", "99"))
    summary = store.query(summary_query(date(2024, 5, 1), date(2024, 5, 2)))
    report = by_campaign(summary, {"12": "Spring Sale"})
    rows = {r[0]: dict(zip(report.columns, r, strict=True)) for r in report.rows}
    assert rows["Spring Sale"]["installs"] == 2
    assert rows["Spring Sale"]["source_identifiers"] == "12,1234"
    assert rows["99"]["installs"] == 1
    assert store.query(summary_query(date(2024, 5, 2), None)).rows == []
