"""Run an attribution job on a store: SQL for the heavy work, models on aggregated paths.

``attribute(source, plan, request)`` returns ``Credits``: per model, label, bucket and
currency, the conversions and the value credited. Rule-based models are computed in one
SQL query (their weights side by side); data-driven models get the distinct paths (with
their non-converting journeys) and return shares per path, which numpy spreads over the
conversions and values of each path. No Python loop runs over events or conversions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
from scipy import sparse

from convtrack.attribution import journeys_sql as jsql
from convtrack.attribution.conversions_sql import conversions_sql
from convtrack.attribution.dialect import DUCKDB, Dialect, Grain
from convtrack.attribution.model import AttributionModel, PathModel, PathSet, TouchModel, TouchTerms
from convtrack.attribution.people import People
from convtrack.attribution.touchpoints import DIRECT, Labels, Level, labels, signature
from convtrack.plan import CompiledPlan
from convtrack.reports.counting import Window
from convtrack.store import QueryResult
from convtrack.store.base import CreditsJob

Step = Callable[[str], None]


class Source(Protocol):
    def query(self, sql: str, params: Sequence[Any] = ()) -> QueryResult: ...


@dataclass(frozen=True)
class Request:
    models: list[AttributionModel]
    level: Level = "channel"
    start: date | None = None
    end: date | None = None
    grain: Grain | None = None
    default_currency: str = "USD"
    dialect: Dialect = DUCKDB
    people: People = field(default_factory=People)


@dataclass
class PathRows:
    """Converting paths as the SQL grouped them (one entry per group row)."""

    paths: list[tuple[int, ...]]
    bucket: list[Any]
    currency: list[str | None]
    real: np.ndarray  # touches that are not synthetic
    days: np.ndarray  # days from first real touch to conversion
    conversions: np.ndarray
    value: np.ndarray  # NaN: no value


@dataclass
class Credits:
    """Long-format results: one row per (model, label, bucket, currency)."""

    labels: list[str]  # label id -> name
    rows: list[tuple[str, str, Any, str | None, float, float | None]]
    paths: PathRows | None
    conversions: int
    meta: dict[str, Any] = field(default_factory=dict)


def _parse_path(text: str | None) -> tuple[int, ...]:
    return tuple(int(x) for x in (text or "").split())


@dataclass(frozen=True)
class Classified:
    """The range's touch signatures, named: the label map at one level, label names, and
    every signature's names at all levels (by signature id)."""

    lmap: jsql.LabelMap
    names: list[str]
    info: dict[int, Labels]


def classify(source: Source, job: jsql.Job, plan: CompiledPlan, level: Level) -> Classified:
    result = source.query(*jsql.signatures_sql(job))
    sigs = sorted({signature(r) for r in result.rows} | {DIRECT}, key=lambda s: s.key)
    names: dict[str, int] = {}
    rows: list[tuple[Any, ...]] = []
    info: dict[int, Labels] = {}
    for sig_id, sig in enumerate(sigs):
        lab = labels(sig, plan.channels)
        info[sig_id] = lab
        label_id = names.setdefault(lab.at(level), len(names))
        rows.append((*sig.columns(), sig_id, label_id, lab.is_direct))
    direct_sig = sigs.index(DIRECT)
    lmap = jsql.LabelMap(rows, direct_sig, names[info[direct_sig].at(level)])
    return Classified(lmap, list(names), info)


def _windows(plan: CompiledPlan) -> dict[str, tuple[int, int]]:
    return {c.name: (c.windows.click_days, c.windows.view_days) for c in plan.plan.conversions}


def attribute(
    source: Source, plan: CompiledPlan, request: Request, step: Step | None = None
) -> Credits:
    say = step or (lambda _: None)
    job = _job(plan, request)
    if job is None:
        return Credits([], [], None, 0, {"note": "the plan defines no conversions"})
    say("classifying touchpoints")
    named = classify(source, job, plan, request.level)
    lmap, names = named.lmap, named.names
    touch = [m for m in request.models if isinstance(m, TouchModel)]
    path = [m for m in request.models if isinstance(m, PathModel)]
    say("crediting touches and aggregating paths")
    weights = [m.weight_sql(TouchTerms()) for m in touch]
    sql = jsql.report_sql(job, lmap, weights, request.grain, nulls=bool(path))
    parts = _parts(source, sql)
    rows = _touch_credits(parts["credit"], names, touch)
    paths = _paths(parts["path"])
    conversions = int(paths.conversions.sum())
    meta: dict[str, Any] = {}
    if path:
        nulls = _nulls(parts["null"])
        pathset, index = _pathset(paths, nulls, names)
        for m in path:
            say(f"running {m.name}")
            shares = m.path_shares(pathset)
            rows += _spread(m.name, shares, index, paths, names)
            meta[m.name] = _model_meta(m, pathset)
    return Credits(names, rows, paths, conversions, meta)


class CreditStore(Source, Protocol):
    def save_credits(self, job: CreditsJob) -> int: ...


def _job(plan: CompiledPlan, request: Request) -> jsql.Job | None:
    conv = conversions_sql(
        plan, Window(request.start, request.end), request.dialect, request.default_currency
    )
    if conv is None:
        return None
    return jsql.Job(
        conv, _windows(plan), request.start, request.end, request.dialect, request.people
    )


def save_credits(
    store: CreditStore, plan: CompiledPlan, request: Request, step: Step | None = None
) -> int:
    """Write the ``conversion_credits`` rows of the request's models and range (data-driven
    models run at the channel level there). Returns the rows written."""
    say = step or (lambda _: None)
    job = _job(plan, request)
    if job is None:
        return 0
    say("classifying touchpoints")
    named = classify(source=store, job=job, plan=plan, level="channel")
    touch = [m for m in request.models if isinstance(m, TouchModel)]
    path = [m for m in request.models if isinstance(m, PathModel)]
    shares = None
    if path:
        say("aggregating paths")
        paths, nulls = _path_parts(store, job, named.lmap)
        pathset, _ = _pathset(paths, nulls, named.names)
        tables = []
        for m in path:
            say(f"running {m.name}")
            tables.append(_shares_table(m.name, m.path_shares(pathset), pathset))
        shares = pa.concat_tables(tables)
    names = [
        (key, lab.channel, lab.source, lab.medium, lab.campaign, lab.ad)
        for key, lab in named.info.items()
    ]
    sql = jsql.credit_rows_sql(
        job, named.lmap, names,
        [(m.name, m.weight_sql(TouchTerms())) for m in touch], [m.name for m in path],
    )  # fmt: skip
    say("writing conversion_credits")
    models = [m.name for m in request.models]
    return store.save_credits(
        CreditsJob(sql[0], sql[1], shares, models, request.start, request.end)
    )


def _shares_table(model: str, shares: sparse.csr_matrix, paths: PathSet) -> pa.Table:
    coo = sparse.coo_matrix(shares)
    keep = coo.data != 0
    text = [" ".join(map(str, p)) for p in paths.paths]
    return pa.table({
        "model": pa.array([model] * int(keep.sum()), pa.string()),
        "path": pa.array([text[r] for r in coo.row[keep]], pa.string()),
        "label": pa.array(coo.col[keep].astype(np.int64)),
        "share": pa.array(coo.data[keep].astype(np.float64)),
    })  # fmt: skip


def _touch_credits(
    rows: list[tuple[Any, ...]], names: list[str], models: list[TouchModel]
) -> list[tuple[str, str, Any, str | None, float, float | None]]:
    out = []
    for row in rows:
        label, bucket, currency = names[int(row[1])], row[2], row[3]
        for i, m in enumerate(models):
            count, value = row[8 + 2 * i], row[9 + 2 * i]
            if count:
                value = None if value is None else float(value)
                out.append((m.name, label, bucket, currency, float(count), value))
    return out


def _paths(rows: list[tuple[Any, ...]]) -> PathRows:
    value = [np.nan if r[7] is None else float(r[7]) for r in rows]
    return PathRows(
        paths=[_parse_path(r[1]) for r in rows],
        bucket=[r[2] for r in rows],
        currency=[r[3] for r in rows],
        real=np.array([r[4] for r in rows], dtype=np.int64),
        days=np.array([r[5] for r in rows], dtype=np.int64),
        conversions=np.array([r[6] for r in rows], dtype=np.float64),
        value=np.array(value, dtype=np.float64),
    )


def _path_parts(
    source: Source, job: jsql.Job, lmap: jsql.LabelMap
) -> tuple[PathRows, dict[tuple[int, ...], int]]:
    """Converting and non-converting paths (no rule-based credits, no buckets)."""
    parts = _parts(source, jsql.report_sql(job, lmap, [], None, nulls=True))
    return _paths(parts["path"]), _nulls(parts["null"])


def _parts(source: Source, sql: jsql.Query) -> dict[str, list[tuple[Any, ...]]]:
    """The report statement's rows, split by their ``part`` column."""
    parts: dict[str, list[tuple[Any, ...]]] = {"credit": [], "path": [], "null": []}
    for row in source.query(*sql).rows:
        parts[row[0]].append(row)
    return parts


def _nulls(rows: list[tuple[Any, ...]]) -> dict[tuple[int, ...], int]:
    return {_parse_path(r[1]): int(r[6]) for r in rows if r[1]}


def _pathset(
    rows: PathRows, nulls: dict[tuple[int, ...], int], names: list[str]
) -> tuple[PathSet, np.ndarray]:
    """Distinct paths (converting and not) and, per path row, its distinct-path index."""
    index: dict[tuple[int, ...], int] = {}
    row_index = np.array([index.setdefault(p, len(index)) for p in rows.paths], dtype=np.int64)
    for p in nulls:
        index.setdefault(p, len(index))
    conv = np.bincount(row_index, weights=rows.conversions, minlength=len(index))
    null = np.zeros(len(index))
    for p, n in nulls.items():
        null[index[p]] = n
    return PathSet(list(names), list(index), conv.astype(np.float64), null), row_index


def _spread(
    model: str,
    shares: sparse.csr_matrix,
    row_index: np.ndarray,
    rows: PathRows,
    names: list[str],
) -> list[tuple[str, str, Any, str | None, float, float | None]]:
    """Per path row: share × conversions and share × value, summed per label/bucket/currency."""
    groups: dict[tuple[Any, str | None], int] = {}
    group = np.array(
        [groups.setdefault(k, len(groups)) for k in zip(rows.bucket, rows.currency, strict=True)],
        dtype=np.int64,
    )
    per_row = sparse.csr_matrix(shares)[row_index].tocoo()
    key = per_row.col.astype(np.int64) * max(len(groups), 1) + group[per_row.row]
    size = len(names) * max(len(groups), 1)
    conv = np.bincount(key, weights=per_row.data * rows.conversions[per_row.row], minlength=size)
    raw = per_row.data * rows.value[per_row.row]
    has = np.bincount(key, weights=~np.isnan(raw), minlength=size)
    value = np.bincount(key, weights=np.nan_to_num(raw), minlength=size)
    out = []
    for (bucket, currency), g in groups.items():
        for label, name in enumerate(names):
            k = label * len(groups) + g
            if conv[k]:
                v = float(value[k]) if has[k] else None
                out.append((model, name, bucket, currency, float(conv[k]), v))
    return out


def _model_meta(model: AttributionModel, paths: PathSet) -> dict[str, Any]:
    """What a data-driven model says about the paths (its optional ``explain(paths)``)."""
    explain = getattr(model, "explain", None)
    return dict(explain(paths)) if callable(explain) else {}
