"""The attribution report as one call, shared by ``convtrack attribute`` and
``GET /v1/reports/attribution``: parameters in, ``Report`` out.

Parameters (the CLI's options and the API's query string are the same names):
``model`` (repeatable; ``NAME`` or ``NAME:option=value,...``), ``compare`` (every registered
model with its defaults), ``by`` (level), ``from`` / ``to`` (UTC days, ``to`` left out),
``grain`` (day | week | month; none: the whole range), ``currency``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from convtrack.attribution.dialect import GRAINS, Grain, dialect_of
from convtrack.attribution.engine import CreditStore, Request, Source, Step, attribute, save_credits
from convtrack.attribution.model import AttributionModel, create, registered
from convtrack.attribution.people import People, StitchedPeople
from convtrack.attribution.report import SPEND_KEYS, Report, build_report
from convtrack.attribution.spend import spend_query
from convtrack.attribution.touchpoints import LEVELS, Level
from convtrack.errors import ConvtrackError
from convtrack.plan import CompiledPlan
from convtrack.reports.conversions_query import parse_day

DEFAULT_MODEL = "last_non_direct"


@dataclass(frozen=True)
class Params:
    models: list[str] = field(default_factory=lambda: [DEFAULT_MODEL])
    compare: bool = False
    level: Level = "channel"
    start: date | None = None
    end: date | None = None
    grain: Grain | None = None
    currency: str | None = None


def _bad(message: str) -> ConvtrackError:
    return ConvtrackError("invalid_report_parameter", message, 400)


def _option_value(text: str) -> Any:
    for cast in (int, float):
        try:
            value = cast(text)
        except ValueError:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            break
        return value
    return text


def parse_model(spec: str) -> AttributionModel:
    """``markov:order=2`` → the model with its options (clear errors otherwise)."""
    name, _, rest = spec.partition(":")
    options: dict[str, Any] = {}
    for part in filter(None, rest.split(",")):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise _bad(f"model option {part!r} must look like name=value (in {spec!r})")
        options[key.strip()] = _option_value(value.strip())
    return create(name.strip(), **options)


def params_from(query: Mapping[str, Sequence[str]]) -> Params:
    """Params from a query string / CLI mapping of name → values (all text)."""
    known = {"model", "compare", "by", "from", "to", "grain", "currency"}
    unknown = sorted(set(query) - known)
    if unknown:
        raise _bad(f"unknown parameter {', '.join(unknown)}; known: {', '.join(sorted(known))}")

    def one(name: str) -> str | None:
        values = query.get(name) or []
        if len(values) > 1:
            raise _bad(f"{name} given {len(values)} times")
        return values[0] if values else None

    level = one("by") or "channel"
    if level not in LEVELS:
        raise _bad(f"by must be one of {', '.join(LEVELS)}, got {level!r}")
    grain = one("grain")
    if grain is not None and grain not in GRAINS:
        raise _bad(f"grain must be one of {', '.join(GRAINS)}, got {grain!r}")
    compare = (one("compare") or "false").lower()
    if compare not in ("1", "true", "yes", "0", "false", "no"):
        raise _bad(f"compare must be true or false, got {compare!r}")
    start, end = parse_day(one("from"), "from"), parse_day(one("to"), "to")
    if start and end and start >= end:
        raise _bad("to must be after from (to is the first day left out)")
    currency = one("currency")
    if currency is not None and (len(currency) != 3 or not currency.isupper()):
        raise _bad(f"currency must be an ISO 4217 code like EUR, got {currency!r}")
    return Params(
        list(query.get("model") or [DEFAULT_MODEL]), compare in ("1", "true", "yes"), level,
        start, end, grain, currency,
    )  # fmt: skip


def models_of(params: Params) -> list[AttributionModel]:
    if params.compare:
        return [create(name) for name in registered()]
    return [parse_model(spec) for spec in params.models]


def people_for(source: Source) -> People:
    """``StitchedPeople`` once the identity stage has written people, else ``People``."""
    table = StitchedPeople().table
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1) AS one"  # noqa: S608
    stitched = int(source.query(sql).rows[0][0]) > 0
    return StitchedPeople() if stitched else People()


def people_note(people: People) -> str | None:
    """Said only when journeys follow stitched people (the default needs no note)."""
    if isinstance(people, StitchedPeople):
        return f"journeys follow stitched people ({people.table})"
    return None


def run_report(
    source: Source,
    plan: CompiledPlan,
    params: Params,
    default_currency: str,
    step: Step | None = None,
) -> Report:
    models = models_of(params)
    currency = params.currency or plan.plan.default_currency or default_currency
    people = people_for(source)
    request = Request(
        models, params.level, params.start, params.end, params.grain, default_currency,
        dialect=dialect_of(source), people=people,
    )  # fmt: skip
    credits = attribute(source, plan, request, step)
    spend: list[tuple[str, Any, str, float]] = []
    key = SPEND_KEYS.get(params.level)
    if key is not None:
        sql, args = spend_query(params.start, params.end, [key], params.grain)
        for row in source.query(sql, args).rows:
            bucket = row[0] if params.grain else None
            rest = row[1:] if params.grain else row
            spend.append((rest[0], bucket, rest[1], float(rest[2] or 0)))
    report = build_report(
        credits, level=params.level, currency=currency, grain=params.grain,
        models=[m.describe() for m in models], spend=spend,
    )  # fmt: skip
    if (note := people_note(people)) is not None:
        report.notes.append(note)
    if key is None:
        report.notes.append(f"spend is matched by channel or campaign, not by {params.level}")
    return report


def save_report_credits(
    store: CreditStore,
    plan: CompiledPlan,
    params: Params,
    default_currency: str,
    step: Step | None = None,
) -> dict[str, Any]:
    """``--save``: write ``conversion_credits`` for the params' models and range."""
    models = models_of(params)
    request = Request(
        models, "channel", params.start, params.end, None, default_currency,
        dialect=dialect_of(store), people=people_for(store),
    )  # fmt: skip
    written = save_credits(store, plan, request, step)
    return {"rows": written, "models": [m.name for m in models]}
