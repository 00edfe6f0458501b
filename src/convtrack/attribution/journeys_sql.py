# ruff: noqa: S608  (SQL is composed from code constants; every value is a ? parameter)
"""The attribution job's SQL: touchpoints, journeys inside windows, credits, paths.

Built as text with ``?`` parameters from a few pieces (``Dialect`` holds the spellings that
differ between engines); nothing here runs a query. The pipeline, as CTEs:

``conv``  the plan's counted conversions in the report range (``conversions_sql``);
``cw``    each with its person and its click / view windows in seconds;
``ev``    the events that may be touches (pages, impressions, anything with campaign data);
``cand``  touch candidates with their signature columns (see ``touchpoints``);
``lmap``  each signature's id and label at the report's level (classified in Python);
``tl``    the touches, a repeat of the previous touch inside one visit left out;
``j``     conversion × touch inside its windows (a conversion with none gets one synthetic
          direct touch at its own time, so every conversion's credits sum to 1);
``p``     positions, path length, age, last non-direct position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from convtrack.attribution.dialect import Dialect, Grain
from convtrack.attribution.people import People
from convtrack.attribution.touchpoints import SIGNATURE_COLUMNS, VISIT_SECONDS
from convtrack.events import CLICK_IDS

Query = tuple[str, list[Any]]
DAY_S = 86_400


def _at(day: date) -> str:
    return f"{day.isoformat()} 00:00:00+00:00"


def _values(rows: Sequence[Sequence[Any]], columns: Sequence[str], name: str) -> Query:
    """``name(columns) AS (VALUES (?, ...), ...)`` — an inline table of parameters."""
    one = "(" + ", ".join("?" for _ in columns) + ")"
    body = ", ".join(one for _ in rows)
    params = [v for row in rows for v in row]
    return f"{name}({', '.join(columns)}) AS (VALUES {body})", params


@dataclass
class Job:
    """One attribution run's inputs that shape the SQL."""

    conversions: Query  # the SELECT of counted conversions (conversions_sql)
    windows: dict[str, tuple[int, int]]  # conversion name -> (click_days, view_days)
    start: date | None
    end: date | None
    dialect: Dialect
    people: People = field(default_factory=People)

    @property
    def lookback_days(self) -> int:
        return max((max(c, v) for c, v in self.windows.values()), default=0)


def _has_campaign() -> str:
    return "(click_ids <> '' OR utm_source <> '' OR utm_medium <> '' OR utm_campaign <> '')"


def _click_ids_sql() -> str:
    parts = ", ".join(
        f"CASE WHEN e.{_q(c)} IS NOT NULL AND e.{_q(c)} <> '' THEN '{c}' END" for c in CLICK_IDS
    )
    return f"concat_ws(',', {parts})"


def _q(column: str) -> str:
    return f'"{column}"' if column != column.lower() else column


def touch_ctes(job: Job) -> Query:
    """``ev`` and ``cand``: every touch candidate of the range, with its signature columns
    (not yet classified, not yet collapsed into visits)."""
    d, params = job.dialect, []
    where = []
    if job.start is not None:
        where.append(f"e.occurred_at >= {d.timestamp_param()}")
        params.append(_at(job.start - timedelta(days=job.lookback_days)))
    if job.end is not None:
        where.append(f"e.occurred_at < {d.timestamp_param()}")
        params.append(_at(job.end))
    raw_campaign = " OR ".join(
        f"e.{_q(c)} <> ''" for c in (*CLICK_IDS, "utm_source", "utm_medium", "utm_campaign")
    )
    where.append(f"(e.type IN ('page', 'impression') OR {raw_campaign})")
    utm = ", ".join(
        f"COALESCE(e.{c}, '') AS {c}"
        for c in ("utm_source", "utm_medium", "utm_campaign", "utm_content")
    )
    ev = (
        f"ev AS (SELECT e.event_id, {job.people.key('e')} AS person, e.type, "
        f"{d.epoch_seconds('e.occurred_at')} AS at_s, {d.epoch_seconds('e.click_at')} AS click_s, "
        f"{_click_ids_sql()} AS click_ids, {utm}, e.referrer, e.page_url "
        f"FROM events AS e{job.people.join('e')} WHERE {' AND '.join(where)})"
    )
    fresh = f"(click_s IS NULL OR click_s >= at_s - {VISIT_SECONDS})"
    # One pass over ``ev`` (a CTE read twice costs DuckDB a fan-out): each event is paired
    # with n = 1 (its campaign or impression touch) and n = 2 (its referrer landing); the
    # pairs that are not touches are filtered out. Hosts are extracted only for n = 2.
    camp = _has_campaign()
    pairs = (
        "x AS (SELECT ev.*, k.n, "
        f"CASE WHEN k.n = 2 THEN {d.url_host('referrer')} END AS ref_h, "
        f"CASE WHEN k.n = 2 THEN {d.url_host('page_url')} END AS page_h "
        "FROM ev CROSS JOIN (VALUES (1), (2)) AS k(n) "
        f"WHERE (k.n = 1 AND (type = 'impression' OR {camp})) "
        f"OR (k.n = 2 AND type = 'page' AND NOT ({camp} AND {fresh})))"
    )
    from_campaign = ", ".join(
        f"CASE WHEN n = 1 THEN {c} ELSE '' END AS {c}"
        for c in ("click_ids", "utm_source", "utm_medium", "utm_campaign", "utm_content")
    )
    cand = (
        "cand AS (SELECT person, event_id, "
        "CASE WHEN type = 'impression' THEN 'view' ELSE 'click' END AS kind, "
        "CASE WHEN n = 1 AND type <> 'impression' THEN COALESCE(click_s, at_s) ELSE at_s END "
        f"AS touch_s, {from_campaign}, "
        "CASE WHEN n = 2 THEN COALESCE(ref_h, '') ELSE '' END AS ref_host "
        "FROM x WHERE n = 1 OR ref_h IS NULL OR page_h IS NULL OR ref_h <> page_h)"
    )
    return f"{ev}, {pairs}, {cand}", params


def signatures_sql(job: Job) -> Query:
    """The distinct touch signatures of the range (to classify in Python)."""
    ctes, params = touch_ctes(job)
    cols = ", ".join(SIGNATURE_COLUMNS)
    return f"WITH {ctes} SELECT DISTINCT {cols} FROM cand", params


@dataclass(frozen=True)
class LabelMap:
    """Each signature (its columns, as ``signatures_sql`` returns them) → a signature id,
    its label id at the report's level, and whether it is direct; ``direct`` is the id of
    the direct signature (given to conversions without touches)."""

    rows: list[tuple[Any, ...]]  # (*SIGNATURE_COLUMNS, sig_id, label, is_direct)
    direct_sig: int
    direct_label: int


def journey_ctes(job: Job, labels: LabelMap) -> Query:
    """All CTEs down to ``p`` (one row per conversion × touch, with positions)."""
    d = job.dialect
    conv_sql, conv_params = job.conversions
    win_rows = [(name, c * DAY_S, v * DAY_S) for name, (c, v) in sorted(job.windows.items())]
    win, win_params = _values(win_rows, ("conversion", "click_s", "view_s"), "win")
    touches, touch_params = touch_ctes(job)
    lmap, map_params = _values(
        labels.rows, (*(f"m_{c}" for c in SIGNATURE_COLUMNS), "sig", "label", "is_direct"), "lmap"
    )
    cw = (
        "cw AS (SELECT c.conversion_key, c.event_id, c.conversion, c.occurred_at, "
        f"{d.epoch_seconds('c.occurred_at')} AS conv_s, c.value, c.currency, "
        f"{job.people.key('c')} AS person, w.click_s, w.view_s "
        f"FROM conv AS c{job.people.join('c')} JOIN win AS w ON w.conversion = c.conversion)"
    )
    on = " AND ".join(f"m.m_{c} = t.{c}" for c in SIGNATURE_COLUMNS)
    order = "PARTITION BY person ORDER BY touch_s, sig, touch_id"
    tl = (
        "tc AS (SELECT t.person, t.touch_s, t.kind, t.event_id AS touch_id, m.sig, m.label, "
        f"m.is_direct FROM cand AS t JOIN lmap AS m ON {on}), "
        f"tq AS (SELECT tc.*, LAG(sig) OVER ({order}) AS prev_sig, "
        f"LAG(touch_s) OVER ({order}) AS prev_s FROM tc), "
        "tl AS (SELECT person, touch_s, kind, touch_id, sig, label, is_direct FROM tq "
        f"WHERE prev_sig IS NULL OR prev_sig <> sig OR touch_s - prev_s >= {VISIT_SECONDS})"
    )
    j = (
        "j AS (SELECT c.conversion_key, c.event_id, c.conversion, c.occurred_at, c.conv_s, "
        "c.value, c.currency, t.touch_id, COALESCE(t.touch_s, c.conv_s) AS touch_s, "
        "COALESCE(t.label, ?) AS label, COALESCE(t.is_direct, TRUE) AS is_direct, "
        "COALESCE(t.kind, 'none') AS kind, COALESCE(t.sig, ?) AS sig "
        "FROM cw AS c LEFT JOIN tl AS t ON t.person = c.person AND t.touch_s <= c.conv_s AND ("
        "(t.kind = 'click' AND t.touch_s >= c.conv_s - c.click_s) OR "
        "(t.kind = 'view' AND c.view_s > 0 AND t.touch_s >= c.conv_s - c.view_s)))"
    )
    part = "PARTITION BY conversion_key"
    p = (
        f"p1 AS (SELECT j.*, ROW_NUMBER() OVER ({part} ORDER BY touch_s, touch_id) - 1 "
        f"AS position, COUNT(*) OVER ({part}) AS touches, "
        "(conv_s - touch_s) / 86400.0 AS age_days FROM j), "
        "p AS (SELECT p1.*, MAX(CASE WHEN is_direct THEN NULL ELSE position END) "
        f"OVER ({part}) AS last_non_direct FROM p1)"
    )
    sql = f"conv AS ({conv_sql}), {win}, {cw}, {touches}, {lmap}, {tl}, {j}, {p}"
    params = [*conv_params, *win_params, *touch_params, *map_params]
    params += [labels.direct_label, labels.direct_sig]
    return sql, params


def bucket_sql(d: Dialect, grain: Grain | None, column: str = "occurred_at") -> str:
    return "NULL" if grain is None else d.utc_bucket(column, grain)


REPORT_COLUMNS = ("part", "item", "bucket", "currency", "real", "days", "n", "value")


def report_sql(
    job: Job, labels: LabelMap, weights: Sequence[str], grain: Grain | None, nulls: bool
) -> Query:
    """Everything a report needs in one statement (the journey CTEs are computed once),
    as rows of three parts told apart by ``part``:

    - ``credit``: rule-based credits per label (``item``, the label id), bucket and currency:
      ``c0, v0, c1, v1, …`` — conversions and value credited under each weight;
    - ``path``: converting paths (``item``: label ids in time order, space-separated) per
      bucket, currency, ``real`` (touches that are not the synthetic one) and ``days`` (from
      the first real touch): ``n`` conversions worth ``value``;
    - ``null`` (when ``nulls``): non-converting paths — per person, the touches in the range
      after their last conversion (all of them if none) — ``n`` journeys each.
    """
    ctes, params = journey_ctes(job, labels)
    d = job.dialect
    k = len(weights)
    bucket = bucket_sql(d, grain)
    label_path = d.ordered_concat("CAST(label AS VARCHAR)", "touch_s, touch_id", " ")

    none = d.to_double("NULL")
    no_credits = "".join(f", {none} AS c{i}, {none} AS v{i}" for i in range(k))
    parts = []
    with_ = [ctes]
    if k:
        ws = ", ".join(f"{d.to_double(w)} AS w{i}" for i, w in enumerate(weights))
        cs = ", ".join(
            f"w{i} / SUM(w{i}) OVER (PARTITION BY conversion_key) AS c{i}" for i in range(k)
        )
        with_.append(f"pw AS (SELECT p.*, {ws} FROM p), pc AS (SELECT pw.*, {cs} FROM pw)")
        sums = "".join(f", SUM(c{i}) AS c{i}, SUM(c{i} * value) AS v{i}" for i in range(k))
        parts.append(
            "SELECT 'credit' AS part, CAST(label AS VARCHAR) AS item, "
            f"{bucket} AS bucket, currency, CAST(NULL AS INTEGER) AS real, "
            f"CAST(NULL AS INTEGER) AS days, CAST(NULL AS BIGINT) AS n, {none} AS value{sums} "
            "FROM pc GROUP BY label, bucket, currency"
        )
    with_.append(
        f"pa AS (SELECT conversion_key, {bucket} AS bucket, currency, value, conv_s, "
        f"{label_path} AS path, COUNT(touch_id) AS real, "
        "MIN(CASE WHEN touch_id IS NULL THEN NULL ELSE touch_s END) AS first_s "
        "FROM p GROUP BY conversion_key, occurred_at, currency, value, conv_s)"
    )
    days = "CAST(FLOOR((conv_s - COALESCE(first_s, conv_s)) / 86400.0) AS INTEGER)"
    parts.append(
        "SELECT 'path', path, bucket, currency, CAST(real AS INTEGER), "
        f"{days} AS days, COUNT(*), {d.to_double('SUM(value)')}{no_credits} "
        f"FROM pa GROUP BY path, bucket, currency, real, {days}"
    )
    if nulls:
        null_path = d.ordered_concat("CAST(t.label AS VARCHAR)", "t.touch_s, t.touch_id", " ")
        since = ""
        if job.start is not None:
            since = f" AND t.touch_s >= {d.epoch_seconds(d.timestamp_param())}"
        with_.append(
            "lc AS (SELECT person, MAX(conv_s) AS last_s FROM cw GROUP BY person), "
            f"np AS (SELECT t.person, {null_path} AS path FROM tl AS t "
            "LEFT JOIN lc ON lc.person = t.person "
            f"WHERE (lc.last_s IS NULL OR t.touch_s > lc.last_s){since} GROUP BY t.person)"
        )
        if job.start is not None:
            params.append(_at(job.start))
        parts.append(
            "SELECT 'null', path, NULL, NULL, CAST(NULL AS INTEGER), CAST(NULL AS INTEGER), "
            f"COUNT(*), {none}{no_credits} FROM np GROUP BY path"
        )
    sql = f"WITH {', '.join(with_)} " + " UNION ALL ".join(parts)
    return sql, params


NAME_COLUMNS = ("channel", "source", "medium", "campaign", "ad")
CREDIT_KEEP = (
    "conversion_key", "event_id", "conversion", "occurred_at", "touch_id", "touch_s", "kind",
    "position", "touches", "sig", "value", "currency",
)  # fmt: skip


def credit_rows_sql(
    job: Job,
    labels: LabelMap,
    names: Sequence[Sequence[Any]],
    touch_models: Sequence[tuple[str, str]],
    path_models: Sequence[str],
) -> Query:
    """One row per conversion × touch × model (the ``conversion_credits`` table's columns).

    ``names``: (signature id, channel, source, medium, campaign, ad) rows; ``touch_models``:
    (name, weight SQL); ``path_models``: names whose shares are in a table ``path_shares``
    (model, path, label, share) that the store provides next to the query."""
    ctes, params = journey_ctes(job, labels)
    d = job.dialect
    lnames, name_params = _values(names, ("sig", *NAME_COLUMNS), "lnames")
    params = [*params, *name_params]
    ws = ", ".join(f"{d.to_double(w)} AS w{i}" for i, (_, w) in enumerate(touch_models))
    ws = ws or "1 AS w_none"
    cs = (
        ", ".join(
            f"w{i} / SUM(w{i}) OVER (PARTITION BY conversion_key) AS c{i}"
            for i in range(len(touch_models))
        )
        or "0 AS c_none"
    )
    keep = ", ".join(CREDIT_KEEP)
    parts = []
    for i, (name, _) in enumerate(touch_models):
        parts.append(f"SELECT {keep}, ? AS model, c{i} AS credit FROM pc")
        params.append(name)
    if path_models:
        path = d.ordered_concat("CAST(label AS VARCHAR)", "touch_s, touch_id", " ")
        parts.append(
            f"SELECT {keep}, s.model, s.share / pp.same_label AS credit FROM pp "
            "JOIN path_shares AS s ON s.path = pp.path AND s.label = pp.label"
        )
    union = " UNION ALL ".join(parts)
    extra = ""
    if path_models:
        extra = (
            f", pk AS (SELECT conversion_key AS pk_key, {path} AS path FROM p "
            "GROUP BY conversion_key), "
            "pp AS (SELECT pc.*, pk.path, COUNT(*) OVER (PARTITION BY pc.conversion_key, pc.label) "
            "AS same_label FROM pc JOIN pk ON pk.pk_key = pc.conversion_key)"
        )
    cols = ", ".join(f"n.{c}" for c in NAME_COLUMNS)
    sql = (
        f"WITH {ctes}, {lnames}, pw AS (SELECT p.*, {ws} FROM p), "
        f"pc AS (SELECT pw.*, {cs} FROM pw){extra}, cr AS ({union}) "
        "SELECT cr.conversion_key, cr.event_id, cr.conversion, cr.occurred_at AS converted_at, "
        "cr.model, cr.touch_id, CASE WHEN cr.touch_id IS NULL THEN NULL "
        f"ELSE {d.from_epoch('cr.touch_s')} END AS touch_at, cr.kind, "
        "CAST(cr.position AS INTEGER) AS position, "
        f"CAST(cr.touches AS INTEGER) AS touches, {cols}, "
        f"{d.to_double('cr.credit')} AS credit, "
        f"{d.to_double('cr.credit * cr.value')} AS value_credit, "
        "cr.currency FROM cr JOIN lnames AS n ON n.sig = cr.sig"
    )
    return sql, params
