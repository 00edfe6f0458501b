"""An adjustment's original conversion: what it lends the adjustment a platform receives.

A refund often comes from a backend with only an order id and an amount, while a platform
matches an adjustment to the conversion it adjusts by that conversion's identifiers, click ids
and time. So each adjustment job is claimed with its original (``ClaimedJob.original``: the
earliest stored conversion of that order, looked up in one query per claim) and
:func:`adjusted` builds what is sent:

- from the original: the identifiers (hashed user data, click ids, ``fbc``/``fbp``/``ttp``,
  anonymous and user id, IP, user agent), where it happened (source, page, referrer), its
  consent signals, and :class:`~convtrack.forward.model.Original` (event id, time, value,
  currency). The adjustment's own identifiers only fill the fields the original lacks.
- from the adjustment: its event id, name, time, value, order id, contents and properties.
  The currency is the original's (the order's), else the adjustment's: an amount sent without
  a currency is stored with ``default_currency``, indistinguishable from an explicit one.
- when the original's consent does not allow the destination: no identifiers at all, neither
  the original's nor the adjustment's (``Original.consented`` is False), and a consent-gated
  destination refuses it (``Destination.check``): a refund never carries what its purchase
  was not allowed to.
- no original stored: the adjustment as it is, ``original`` None; a destination that cannot
  match without it (``Destination.needs_original``) waits for it (the worker retries).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from convtrack.forward.destination import Destination
from convtrack.forward.model import ForwardEvent, Original
from convtrack.forward.routing import CONSENT_NAMES
from convtrack.forward.rows import aware, forward_event

#: what identifies the person or the click behind a conversion
IDENTITY = ("client_ip", "user_agent", "fbc", "fbp", "ttp", "anonymous_id", "user_id")
#: where the conversion happened: the original's, and withheld with its identifiers
CONTEXT = ("page_url", "referrer")
_WITHHELD: dict[str, Any] = {
    **dict.fromkeys(IDENTITY + CONTEXT),
    "click_ids": {},
    "user_data": {},
}


def _json(raw: Any) -> Any:
    if raw is None or isinstance(raw, dict | list):
        return raw
    return msgspec.json.decode(raw)


def consent_allows(row: Mapping[str, Any], name: str, destination: Destination) -> bool:
    """Does the stored original's consent allow ``destination``? As at ingest (routing): the
    privacy stage's decision when it made one, else none of the destination's signals denied."""
    decision = _json(row.get("consent_decision"))
    if isinstance(decision, dict) and "destinations" in decision:
        return CONSENT_NAMES.get(name, name) in (decision["destinations"] or ())
    consent = _json(row.get("consent")) or {}
    return all(consent.get(signal) != "denied" for signal in destination.consent_required)


def adjusted(
    event: ForwardEvent,
    row: Mapping[str, Any] | None,
    name: str,
    destination: Destination,
) -> ForwardEvent:
    """The adjustment ``event`` as ``name`` gets it, given its stored original ``row``."""
    if row is None:
        return event
    original = forward_event(row, name, event.event_name)
    consented = consent_allows(row, name, destination)
    ref = Original(
        event_id=original.event_id,
        occurred_at=aware(original.occurred_at),
        value=original.value,
        currency=original.currency,
        consented=consented,
    )
    common: dict[str, Any] = {
        "original": ref,
        "source": original.source,
        # the order's: a value sent without a currency is stored with default_currency,
        # so the adjustment's own cannot be told from a default
        "currency": original.currency or event.currency,
        "consent": {**event.consent, **original.consent},
    }
    if not consented:
        return msgspec.structs.replace(event, **common, **_WITHHELD)
    lent = {f: getattr(original, f) or getattr(event, f) for f in IDENTITY + CONTEXT}
    return msgspec.structs.replace(
        event,
        **common,
        **lent,
        click_ids=original.click_ids or event.click_ids,
        user_data={**event.user_data, **original.user_data},
    )
