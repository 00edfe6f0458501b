# ruff: noqa: S608  (SQL text composed here is our own constant fragments; values are ? parameters)
"""Modeled conversions: what consent denial hid from attribution, with a 95 % interval.

The model (docs/qa.md#modeled-conversions). A *visit* is a landing page view: a ``page``
event without a referrer or with a referrer on another host; its *channel* is
``utm_source / utm_medium``, else the referrer's host, else ``(direct)``. Consent decides
how visits are stored:

- consented visits (``consent_decision.analytics = 'full'``, or no decision) keep their
  ``session_id``, so a conversion joins the landing of its session: per channel ``c``, ``m_c``
  visits and ``k_c`` conversions give the conversion rate ``r_c = k_c / m_c``;
- consented-out visits are stored pseudonymously (cookieless pings: no ids, no session), so
  their conversions cannot be tied to a channel; we count their visits ``n_c``.

The estimate is ``Σ r_c · n_c`` (a channel without consented visits takes the pooled rate).
Its 95 % prediction interval treats ``k_c`` and the hidden count as Poisson: the variance is
``n_c² · k_c / m_c²`` (uncertainty of the rate) ``+ r_c · n_c`` (chance in the hidden
conversions), summed over channels, ± 1.96 standard deviations. It assumes consent is
independent of the conversion propensity within a channel. Observed conversions are reported
beside it and never mixed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from convtrack.qa.sql import Conversions, Source, Window, between, host, json_field, rows

Z95 = 1.959964
FULL = f"({json_field('consent_decision', 'analytics')} = 'full' OR consent_decision IS NULL)"
C_FULL = f"({json_field('c.consent_decision', 'analytics')} = 'full' OR c.consent_decision IS NULL)"
LANDING = (
    f"(referrer IS NULL OR {host('referrer')} IS NULL OR {host('referrer')} <> {host('page_url')})"
)
CHANNEL = (
    "COALESCE(utm_source || ' / ' || COALESCE(utm_medium, ''), "
    + host("referrer")
    + ", '(direct)')"
)
IN_WINDOW = between("received_at")


@dataclass(frozen=True)
class ChannelFigures:
    channel: str
    visits: int  # consented visits (m)
    conversions: int  # consented conversions in them (k)
    hidden_visits: int  # consented-out visits (n)

    def estimate(self, pooled: float) -> tuple[float, float, bool]:
        """(modeled conversions, variance, used the pooled rate)."""
        n = self.hidden_visits
        if self.visits == 0:
            return pooled * n, pooled * n, True
        rate = self.conversions / self.visits
        var = n * n * self.conversions / self.visits**2 + rate * n
        return rate * n, var, False


def figures(store: Source, w: Window, conv: Conversions) -> list[ChannelFigures]:
    visits_sql = (
        f"SELECT {CHANNEL} AS channel, CASE WHEN {FULL} THEN 1 ELSE 0 END AS consented, "
        f"count(*) AS n FROM events WHERE type = 'page' AND {LANDING} AND {IN_WINDOW} "
        "GROUP BY 1, 2"
    )
    conv_sql = (
        f"WITH l AS (SELECT session_id, {CHANNEL} AS channel, ROW_NUMBER() OVER "
        "(PARTITION BY session_id ORDER BY occurred_at, event_id) AS rn FROM events "
        f"WHERE type = 'page' AND session_id IS NOT NULL AND {FULL} AND {LANDING} "
        f"AND {IN_WINDOW}) SELECT l.channel, count(*) AS n FROM events c JOIN l "
        f"ON l.session_id = c.session_id AND l.rn = 1 WHERE {conv.where('c')} "
        f"AND {between('c.received_at')} AND {C_FULL} "
        "GROUP BY 1"
    )
    seen: dict[str, list[int]] = {}
    for r in rows(store, visits_sql, w.params):
        seen.setdefault(r["channel"], [0, 0, 0])[0 if r["consented"] else 2] += int(r["n"])
    for r in rows(store, conv_sql, w.params + conv.params + w.params):
        seen.setdefault(r["channel"], [0, 0, 0])[1] += int(r["n"])
    return [ChannelFigures(c, *v) for c, v in sorted(seen.items())]


def observed_conversions(store: Source, w: Window, conv: Conversions) -> dict[str, int]:
    sql = (
        f"SELECT CASE WHEN {FULL} THEN 1 ELSE 0 END AS consented, count(*) AS n FROM events "
        f"WHERE {conv.where()} AND {IN_WINDOW} GROUP BY 1"
    )
    found = {int(r["consented"]): int(r["n"]) for r in rows(store, sql, conv.params + w.params)}
    return {"consented": found.get(1, 0), "pseudonymous": found.get(0, 0)}


def _interval(est: float, var: float) -> dict[str, float]:
    half = Z95 * math.sqrt(var)
    return {"lower": round(max(0.0, est - half), 3), "upper": round(est + half, 3)}


def model(found: list[ChannelFigures]) -> dict[str, Any]:
    m = sum(f.visits for f in found)
    pooled = sum(f.conversions for f in found) / m if m else 0.0
    channels, total, total_var = [], 0.0, 0.0
    for f in found:
        est, var, used_pooled = f.estimate(pooled)
        total += est
        total_var += var
        channels.append({
            "channel": f.channel, "consented_visits": f.visits,
            "consented_conversions": f.conversions, "consented_out_visits": f.hidden_visits,
            "conversion_rate": round(f.conversions / f.visits, 6) if f.visits else None,
            "modeled": round(est, 3), "interval95": _interval(est, var),
            "pooled_rate": used_pooled,
        })  # fmt: skip
    return {
        "modeled": round(total, 3),
        "interval95": _interval(total, total_var),
        "pooled_rate": round(pooled, 6),
        "channels": channels,
    }


def modeled(store: Source, w: Window, conv: Conversions | None = None) -> dict[str, Any]:
    """The modeled conversions of the window, beside the observed ones (``GET /v1/qa/modeled``);
    ``conv`` says which events are conversions (``Conversions.of_plan``)."""
    conv = conv or Conversions()
    result = model(figures(store, w, conv))
    return {
        "window": w.as_json(),
        "observed": observed_conversions(store, w, conv),
        **result,
        "method": "consented conversion rate per channel x consented-out visits (docs/qa.md)",
    }
