"""The full attribution report on a large DuckDB store vs the bare SQL that builds its paths.

Builds a store of ``--touchpoints`` landing page views (10 M by default) and
``--conversions`` purchases (1 M) for ``--people`` people over 120 days, with ten sources
(click ids, UTMs, referrers, direct) generated inside DuckDB. Then, in the same run:

- **bare SQL**: one hand-written query that builds the paths: the same touch rules, every
  purchase's 30-day path of channels and the non-converting paths, grouped (a CASE for the
  channel; no plan, no counting rules, no classification, no credits, no models);
- **convtrack**: ``run_report`` with every model (``--compare``): the plan's conversions
  and counting rule in SQL, touch signatures classified by the channel rules, journeys and
  windows, the six rule-based models, the paths and the non-converting journeys, Markov and
  Shapley on the aggregated paths, spend, path analytics.

Prints both times and their ratio (goal ≤ 2), then one JSON line.

    python bench/attribution_report.py                      # 10 M / 1 M (several minutes)
    python bench/attribution_report.py --touchpoints 1e6 --conversions 1e5
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, environment  # noqa: E402
from convtrack.attribution.service import Params, run_report  # noqa: E402
from convtrack.plan import load_configured_plan  # noqa: E402
from convtrack.store import open_store  # noqa: E402

DAYS = 120
# (weight, utm_source, utm_medium, utm_campaign, click id column, referrer)
SOURCES = [
    (18, "google", "cpc", "brand", "gclid", "https://www.google.com/"),
    (12, "google", "cpc", "generic", "gclid", "https://www.google.com/"),
    (14, "facebook", "paid_social", "prospecting", "fbclid", "https://l.facebook.com/"),
    (6, "tiktok", "paid_social", "launch", "ttclid", None),
    (5, "bing", "cpc", "generic", "msclkid", "https://www.bing.com/"),
    (8, "newsletter", "email", "weekly", None, None),
    (15, None, None, None, None, "https://www.google.com/"),
    (5, None, None, None, None, "https://t.co/"),
    (5, None, None, None, None, "https://forum.example.net/t/1"),
    (12, None, None, None, None, None),
]
BARE_CHANNEL = """CASE
  WHEN gclid IS NOT NULL OR msclkid IS NOT NULL THEN 'Paid Search'
  WHEN fbclid IS NOT NULL OR ttclid IS NOT NULL THEN 'Paid Social'
  WHEN utm_medium = 'email' THEN 'Email'
  WHEN referrer LIKE '%google%' THEN 'Organic Search'
  WHEN referrer LIKE '%t.co%' THEN 'Organic Social'
  WHEN referrer IS NOT NULL THEN 'Referral'
  ELSE 'Direct' END"""


def _lit(v: object) -> str:
    return "NULL" if v is None else "'" + str(v).replace("'", "''") + "'"


def build(path: Path, touchpoints: int, conversions: int, people: int) -> None:
    with open_store(f"duckdb://{path}") as store:
        store.migrate()
    total = sum(w for w, *_ in SOURCES)
    edges, acc = [], 0
    for w, *_ in SOURCES:
        acc += w
        edges.append(acc / total)
    pick = (
        "CASE "
        + " ".join(f"WHEN u < {e} THEN {i}" for i, e in enumerate(edges[:-1]))
        + f" ELSE {len(SOURCES) - 1} END"
    )
    src = (
        "(VALUES "
        + ", ".join(
            f"({i}, {_lit(s)}, {_lit(m)}, {_lit(c)}, {_lit(k)}, {_lit(r)})"
            for i, (_w, s, m, c, k, r) in enumerate(SOURCES)
        )
        + ") AS s(i, us, um, uc, k, ref)"
    )
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SELECT setseed(0.42)")
    t0 = "TIMESTAMPTZ '2024-01-01 00:00:00+00'"
    con.execute(f"""
        INSERT INTO events (event_id, event_name, type, source, occurred_at, received_at,
            anonymous_id, page_url, referrer, utm_source, utm_medium, utm_campaign,
            gclid, fbclid, ttclid, msclkid, click_at, properties)
        SELECT 't' || r.i, 'page_view', 'page', 'tag', r.ts, r.ts, 'p' || r.person,
            'https://shop.example.com/', s.ref, s.us, s.um, s.uc,
            CASE WHEN s.k = 'gclid' THEN 'g' || r.i END,
            CASE WHEN s.k = 'fbclid' THEN 'f' || r.i END,
            CASE WHEN s.k = 'ttclid' THEN 't' || r.i END,
            CASE WHEN s.k = 'msclkid' THEN 'm' || r.i END,
            CASE WHEN s.us IS NOT NULL THEN r.ts END, '{{}}'
        FROM (SELECT i, CAST(floor(random() * {people}) AS BIGINT) AS person,
                     {t0} + to_seconds(CAST(random() * {DAYS * 86400} AS BIGINT)) AS ts,
                     {pick} AS ch
              FROM (SELECT i, random() AS u FROM range({touchpoints}) t(i))) AS r
        JOIN {src} ON s.i = r.ch
    """)  # noqa: S608  (benchmark data, our own constants)
    con.execute(f"""
        INSERT INTO events (event_id, event_name, type, source, occurred_at, received_at,
            anonymous_id, page_url, value, currency, order_id, properties)
        SELECT 'c' || i, 'purchase', 'conversion', 'tag', ts, ts, 'p' || person,
            'https://shop.example.com/thanks', round(10 + random() * 290, 2), 'USD',
            'o' || i, '{{}}'
        FROM (SELECT i, CAST(floor(random() * {people}) AS BIGINT) AS person,
                     {t0} + to_seconds(CAST(random() * {DAYS * 86400} AS BIGINT)) AS ts
              FROM range({conversions}) t(i))
    """)  # noqa: S608
    con.close()


def bare(path: Path) -> tuple[float, int]:
    """The bare SQL that builds the paths: the same touch rules (campaign data at its click
    time, referrer and direct landings, one touch per visit), each purchase's 30-day path,
    and the non-converting paths — written by hand for this data, with a CASE for the
    channel and no plan, counting rules, classification, credits or models."""
    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    sql = f"""
        WITH t0 AS (
            SELECT anonymous_id AS person, event_id,
                   epoch(COALESCE(click_at, occurred_at)) AS ts, {BARE_CHANNEL} AS channel
            FROM events WHERE type = 'page'),
        t1 AS (SELECT t0.*, LAG(channel) OVER w AS prev_c, LAG(ts) OVER w AS prev_ts
               FROM t0 WINDOW w AS (PARTITION BY person ORDER BY ts, event_id)),
        t AS (SELECT * FROM t1 WHERE prev_c IS NULL OR prev_c <> channel
                                     OR ts - prev_ts >= 1800),
        c AS (SELECT anonymous_id AS person, epoch(occurred_at) AS ts, event_id, value
              FROM events WHERE event_name = 'purchase'),
        j AS (SELECT c.event_id, string_agg(t.channel, ' > ' ORDER BY t.ts) AS path,
                     any_value(c.value) AS v
              FROM c JOIN t ON t.person = c.person AND t.ts <= c.ts
                   AND t.ts >= c.ts - 30 * 86400
              GROUP BY c.event_id),
        lc AS (SELECT person, max(ts) AS last_ts FROM c GROUP BY person),
        n AS (SELECT t.person, string_agg(t.channel, ' > ' ORDER BY t.ts) AS path
              FROM t LEFT JOIN lc ON lc.person = t.person
              WHERE lc.last_ts IS NULL OR t.ts > lc.last_ts GROUP BY t.person)
        SELECT 'path', path, count(*), sum(v) FROM j GROUP BY path
        UNION ALL SELECT 'null', path, count(*), NULL FROM n GROUP BY path"""  # noqa: S608
    started = time.perf_counter()
    rows = con.execute(sql).fetchall()
    took = time.perf_counter() - started
    con.close()
    return took, len(rows)


def ours(path: Path) -> tuple[float, int, int]:
    plan = load_configured_plan("")
    with open_store(f"duckdb://{path}", read_only=True) as store:
        started = time.perf_counter()
        report = run_report(store, plan, Params(compare=True), "USD")
        took = time.perf_counter() - started
    return took, report.totals["conversions"], len(report.rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--touchpoints", type=float, default=10e6)
    ap.add_argument("--conversions", type=float, default=1e6)
    ap.add_argument("--people", type=float, default=2e6)
    ap.add_argument("--dir", help="keep the store here (default: a temporary directory)")
    args = ap.parse_args()
    n_t, n_c, n_p = int(args.touchpoints), int(args.conversions), int(args.people)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.dir or tmp) / "bench.duckdb"
        if path.exists():
            con = duckdb.connect(str(path), read_only=True)
            n_t, n_c, n_p = con.execute(
                "SELECT count(*) FILTER (type = 'page'), count(*) FILTER (type = 'conversion'), "
                "count(DISTINCT anonymous_id) FROM events"
            ).fetchall()[0]
            con.close()
            print(f"using the existing store {path}: {n_t:,} touchpoints, {n_c:,} conversions")
        else:
            print(f"building {n_t:,} touchpoints and {n_c:,} conversions for {n_p:,} people…")
            started = time.perf_counter()
            build(path, n_t, n_c, n_p)
            print(f"  built in {time.perf_counter() - started:.1f} s")
        bare_s, bare_paths = bare(path)
        print(f"bare SQL that builds paths:   {bare_s:7.2f} s  ({bare_paths:,} distinct paths)")
        ours_s, conversions, rows = ours(path)
        print(f"convtrack report, all models: {ours_s:7.2f} s  ({conversions:,} conversions, "
              f"{rows} rows)")  # fmt: skip
        ratio = ours_s / bare_s
        print(f"ratio: {ratio:.2f}× the bare SQL (goal ≤ 2×)")
    emit({
        "bench": "attribution_report", "touchpoints": n_t, "conversions": n_c, "people": n_p,
        "bare_s": round(bare_s, 3), "convtrack_s": round(ours_s, 3), "ratio": round(ratio, 3),
        "environment": environment(),
    })  # fmt: skip


if __name__ == "__main__":
    main()
