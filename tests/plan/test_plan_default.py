"""The shipped default plan lints clean and does what its docs say."""

from __future__ import annotations

from pathlib import Path

from convtrack.plan import compile_plan, default_plan_text, lint, load_default_plan
from convtrack.plan.channels import Touch, grouping
from convtrack.plan.model import Channels


def test_default_plan_lints_clean(tmp_path: Path) -> None:
    path = tmp_path / "tracking-plan.yaml"
    path.write_text(default_plan_text())
    assert [str(p) for p in lint(path)] == []


def test_segment_aliases() -> None:
    compiled = compile_plan(load_default_plan())
    for alias, name in [
        ("Order Completed", "purchase"),
        ("Product Added", "add_to_cart"),
        ("Checkout Started", "begin_checkout"),
        ("Product Viewed", "view_item"),
        ("Order Refunded", "refund"),
        ("Application Installed", "app_install"),
        ("Application Opened", "app_open"),
    ]:
        assert compiled.canonical(alias) == name


def test_default_mappings_and_hierarchy() -> None:
    plan = load_default_plan()
    by_name = {c.name: c for c in plan.conversions}
    purchase = by_name["purchase"].platforms
    assert purchase.meta is not None and purchase.meta.event == "Purchase"
    assert purchase.tiktok is not None and purchase.tiktok.event == "CompletePayment"
    assert by_name["subscription_renewal"].category == "purchase/subscription/renewal"
    assert by_name["purchase"].counting == "once_per_order"
    compiled = compile_plan(plan)
    renewal = compiled.conversions_for("subscribe", {"renewal": True})
    assert [c.name for c in renewal] == ["subscription_renewal"]


def test_default_channel_grouping() -> None:
    g = grouping(Channels())
    cases = [
        (Touch(), "Direct"),
        (Touch(click_ids=frozenset({"gclid"})), "Paid Search"),
        (Touch(click_ids=frozenset({"fbclid"})), "Paid Social"),
        (Touch(utm_source="google", utm_medium="cpc"), "Paid Search"),
        (Touch(utm_source="newsletter", utm_medium="email"), "Email"),
        (Touch(utm_source="partner", utm_medium="affiliate"), "Affiliates"),
        (Touch(utm_source="x", utm_medium="display"), "Display"),
        (Touch(referrer_host="www.google.com"), "Organic Search"),
        (Touch(referrer_host="l.facebook.com"), "Organic Social"),
        (Touch(referrer_host="news.example.org"), "Referral"),
        (Touch(utm_source="someone", utm_medium="carrier-pigeon"), "Unassigned"),
    ]
    assert [(t, g.channel(t)) for t, _ in cases] == cases


def test_custom_rules_come_first(tmp_path: Path) -> None:
    from convtrack.plan.model import ChannelRule

    g = grouping(Channels(rules=[ChannelRule("Partners", referrer_domains=["partner.com"])]))
    assert g.channel(Touch(referrer_host="shop.partner.com")) == "Partners"
    assert g.channel(Touch(referrer_host="notpartner.com")) == "Referral"
