"""Small stores with hand-made journeys for the attribution tests (a module, importable)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from convtrack.events import Campaign, Context, Event
from convtrack.identity import StitchPolicy
from convtrack.plan import CompiledPlan, compile_plan, lint_text
from convtrack.store import EventStore, open_store

T0 = datetime(2024, 5, 20, 12, 0, tzinfo=UTC)
SITE = "https://shop.example.com"

PLAN = """\
version: "a1"
default_currency: USD
events:
  - name: purchase
    properties:
      value: {type: number}
      order_id: {type: string}
  - name: generate_lead
conversions:
  - name: purchase
    category: purchase
    event: purchase
    value: {property: value}
    counting: once_per_order
    windows: {click_days: 30, view_days: 1}
  - name: lead
    category: lead
    event: generate_lead
    windows: {click_days: 7, view_days: 0}
"""


def plan() -> CompiledPlan:
    parsed, problems = lint_text(PLAN, "attribution-plan.yaml")
    assert parsed is not None and not problems, problems
    return compile_plan(parsed)


class Journeys:
    """Builds events person by person; ``store()`` writes them to a fresh DuckDB file."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def _add(self, person: str, at: datetime, **fields: Any) -> Event:
        n = len(self.events)
        values: dict[str, Any] = {"event_name": "page_view", "type": "page", "source": "tag"}
        e = Event(
            event_id=f"e{n:04d}", occurred_at=at, received_at=at, anonymous_id=person,
            **(values | fields),
        )  # fmt: skip
        self.events.append(e)
        return e

    def page(
        self,
        person: str,
        at: datetime,
        path: str = "/",
        referrer: str | None = None,
        click_at: datetime | None = None,
        **campaign: str,
    ) -> Event:
        ctx = Context(url=SITE + path, referrer=referrer)
        camp = Campaign(**campaign, click_at=click_at or at) if campaign else None
        if camp is None:
            return self._add(person, at, context=ctx)
        return self._add(person, at, context=ctx, campaign=camp)

    def impression(self, person: str, at: datetime, **campaign: str) -> Event:
        camp = Campaign(**campaign) if campaign else None
        return self._add(person, at, event_name="ad_impression", type="impression",
                         source="pixel", campaign=camp)  # fmt: skip

    def identify(self, person: str, at: datetime, user_id: str) -> Event:
        """A login: the browser ``person`` says it is ``user_id`` (not a touch)."""
        return self._add(person, at, event_name="identify", type="identify", user_id=user_id)

    def convert(
        self, person: str, at: datetime, name: str = "purchase", value: float | None = None,
        order_id: str | None = None, campaign: Campaign | None = None,
    ) -> Event:  # fmt: skip
        return self._add(
            person, at, event_name=name, type="conversion", value=value,
            currency="USD" if value is not None else None, order_id=order_id,
            context=Context(url=SITE + "/thanks", referrer=SITE + "/cart"),
            campaign=campaign or Campaign(),
        )  # fmt: skip

    def store(self, tmp_path: Path, *, stitch: bool = True, url: str | None = None) -> EventStore:
        """The events in a fresh store; ``stitch=False``: no identity stitching at ingest.
        ``url``: an empty store of any engine (default: a DuckDB file in ``tmp_path``)."""
        store = open_store(url or f"duckdb://{tmp_path / 'attr.duckdb'}")
        store.migrate()
        store.configure_identity(StitchPolicy(), at_ingest=stitch)
        store.append(self.events)
        return store


def days(n: float) -> timedelta:
    return timedelta(days=n)
