"""Google Play install referrers (specs/tracking-protocols.md §8.4) and click-link targets."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from convtrack.collect import install_referrer
from convtrack.collect.links import check_destination, new_link, target
from convtrack.errors import ConvtrackError
from convtrack.events import Campaign, Context, Event

REF = "utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=Cj0-AbC&ct_click=k1"


@pytest.mark.parametrize(
    "text",
    [
        REF,
        "utm_source%3Dgoogle%26utm_medium%3Dcpc%26utm_campaign%3Dspring%26gclid%3DCj0-AbC"
        "%26ct_click%3Dk1",  # double-encoded
        "https://play.google.com/store/apps/details?id=com.shop&referrer=utm_source%3Dgoogle"
        "%26utm_medium%3Dcpc%26utm_campaign%3Dspring%26gclid%3DCj0-AbC%26ct_click%3Dk1",
    ],
)
def test_parse(text: str) -> None:
    assert install_referrer.parse(text) == {
        "utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring",
        "gclid": "Cj0-AbC", "ct_click": "k1",
    }  # fmt: skip


def event(name: str, **props: object) -> Event:
    now = datetime.now(UTC)
    return Event(event_id="e", event_name=name, type="track", source="segment",
                 occurred_at=now, received_at=now, properties=dict(props))  # fmt: skip


def test_an_install_event_gets_the_referrers_campaign_and_click() -> None:
    e = install_referrer.apply(
        event("Application Installed", referrer=REF, referrer_click_timestamp_seconds=1714000000)
    )
    assert (e.campaign.utm_campaign, e.campaign.gclid, e.campaign.utm_medium) == (
        "spring", "Cj0-AbC", "cpc",
    )  # fmt: skip
    assert e.properties["ct_click"] == "k1"  # case kept: click ids are verbatim
    assert e.campaign.click_at == datetime.fromtimestamp(1714000000, tz=UTC)


def test_what_the_event_says_wins_and_other_events_are_left_alone() -> None:
    e = event("app_install", install_referrer=REF)
    e.campaign = Campaign(utm_campaign="told")
    assert install_referrer.apply(e).campaign.utm_campaign == "told"
    other = install_referrer.apply(event("app_open", referrer=REF))
    assert other.campaign == Campaign() and "ct_click" not in other.properties
    web = event("app_install")
    web.context = Context(referrer="https://example.com/page")  # a page referrer, not Play's
    assert install_referrer.apply(web).campaign == Campaign()


def test_targets_carry_the_click_id() -> None:
    web = new_link("https://shop.example/sale?x=1#top", "Spring Sale", "news", "email")
    assert target(web, "CK1") == "https://shop.example/sale?x=1&ct_click=CK1#top"
    play = new_link(
        "https://play.google.com/store/apps/details?id=com.shop", "Spring Sale", "news",
        platform="android",
    )  # fmt: skip
    query = parse_qs(urlsplit(target(play, "CK2")).query)
    assert query["id"] == ["com.shop"]
    assert install_referrer.parse(query["referrer"][0]) == {
        "utm_source": "news", "utm_campaign": "Spring Sale", "ct_click": "CK2",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("url", "platform"),
    [
        ("javascript:alert(1)", "web"),
        ("//evil.example/", "web"),
        ("/relative", "web"),
        ("https://evil.example/store/apps/details?id=x", "android"),
        ("https://shop.example/", "desktop"),
    ],
)
def test_unfit_destinations_are_refused(url: str, platform: str) -> None:
    with pytest.raises(ConvtrackError) as caught:
        check_destination(url, platform)
    assert caught.value.code == "invalid_link" and caught.value.status == 422
