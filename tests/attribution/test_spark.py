"""Attribution on Apache Spark (local mode) over an exported Parquet lake gives the same
credits and paths as on the DuckDB store it came from; the export is incremental."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyspark")

from convtrack.attribution.dialect import dialect_of  # noqa: E402
from convtrack.attribution.engine import Credits, Request, Source, attribute  # noqa: E402
from convtrack.attribution.model import create, registered  # noqa: E402
from convtrack.attribution.people import StitchedPeople  # noqa: E402
from convtrack.attribution.service import people_for  # noqa: E402
from convtrack.attribution.spark.source import SparkSource, session, spark_sql  # noqa: E402
from convtrack.export.stores import export_url  # noqa: E402
from convtrack.store import EventStore, open_store  # noqa: E402
from journey_data import T0, Journeys, days, plan  # noqa: E402
from pg import start_server  # noqa: E402

TOUCHES: list[dict[str, Any]] = [
    {"gclid": "G"},
    {"fbclid": "F", "utm_source": "facebook", "utm_medium": "paid_social"},
    {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "may"},
    {"referrer": "https://www.google.com/"},
    {"referrer": "https://news.example.org/a"},
    {},
    {"impression": "display"},
]


def generate(seed: int = 7, people: int = 80) -> Journeys:
    rnd = random.Random(seed)
    j = Journeys()
    for p in range(people):
        person = f"p{p}"
        at = T0 - days(rnd.uniform(5, 25))
        for _ in range(rnd.randint(1, 6)):
            touch = dict(rnd.choice(TOUCHES))
            if "impression" in touch:
                j.impression(person, at, utm_source="dsp", utm_campaign=touch["impression"])
            else:
                j.page(person, at, **touch)
            at += days(rnd.uniform(0.01, 3))
        if rnd.random() < 0.6:
            order = f"o{p % 50}"  # some orders repeat: once_per_order dedups them
            j.convert(person, at, value=round(rnd.uniform(5, 200), 2), order_id=order)
        if rnd.random() < 0.3:
            j.convert(person, at + days(0.5), name="generate_lead")
        if rnd.random() < 0.2:
            j.identify(person, at, f"u{p % 7}")  # stitching joins some browsers
    return j


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    s = session("local[2]", {"spark.sql.shuffle.partitions": "4"})
    yield s
    s.stop()


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EventStore, Path]]:
    tmp = tmp_path_factory.mktemp("lake")
    store = generate().store(tmp)
    store.close()
    export_url(f"duckdb://{tmp / 'attr.duckdb'}", tmp / "lake")
    reader = open_store(f"duckdb://{tmp / 'attr.duckdb'}", read_only=True)
    yield reader, tmp / "lake"
    reader.close()


def run(source: Source, level: str = "channel", **kw: Any) -> Credits:
    models = [create(name) for name in registered()]
    people, dialect = people_for(source), dialect_of(source)  # SPARK for a SparkSource
    request = Request(models, level, people=people, dialect=dialect, **kw)  # type: ignore[arg-type]
    return attribute(source, plan(), request)


def table(credits: Credits) -> dict[tuple[Any, ...], tuple[float, float | None]]:
    return {(m, label, str(b), cur): (n, v) for m, label, b, cur, n, v in credits.rows}


def assert_same(duck: Credits, spark: Credits) -> None:
    a, b = table(duck), table(spark)
    assert a.keys() == b.keys()
    for key, (n, v) in a.items():
        assert b[key][0] == pytest.approx(n, abs=1e-9, rel=0), key
        assert (v is None) == (b[key][1] is None), key
        if v is not None:
            assert b[key][1] == pytest.approx(v, abs=1e-9, rel=0), key
    assert duck.conversions == spark.conversions
    assert duck.labels == spark.labels
    assert duck.paths is not None and spark.paths is not None
    assert path_counts(duck) == path_counts(spark)


def path_counts(credits: Credits) -> list[tuple[Any, ...]]:
    p = credits.paths
    assert p is not None
    rows = zip(
        p.paths,
        map(str, p.bucket),
        map(str, p.currency),
        p.real,
        p.days,
        p.conversions,
        strict=True,
    )
    return sorted((*r[:3], int(r[3]), int(r[4]), float(r[5])) for r in rows)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"level": "campaign", "grain": "week"},
        {"start": date(2024, 5, 15), "end": date(2024, 5, 25), "grain": "day"},
    ],
    ids=["all", "campaign-week", "range-day"],
)
def test_spark_gives_the_duckdb_credits_for_every_model(
    lake: tuple[EventStore, Path], spark: Any, options: dict[str, Any]
) -> None:
    store, root = lake
    duck = run(store, **options)
    assert duck.conversions > 10 and len(duck.rows) > 20
    on_spark = run(SparkSource(spark, root), **options)
    assert_same(duck, on_spark)


@pytest.fixture(scope="module")
def pg_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The same events in PostgreSQL, exported from there."""
    tmp = tmp_path_factory.mktemp("pg_lake")
    server = start_server()
    try:
        store = generate().store(tmp, url=server.url(server.create_database()))
        store.close()
        export_url(store.url, tmp / "lake")
        yield tmp / "lake"
    finally:
        server.stop()


def test_a_postgresql_lake_gives_the_same_credits(
    lake: tuple[EventStore, Path], pg_lake: Path, spark: Any
) -> None:
    store, root = lake
    for options in ({}, {"level": "campaign", "grain": "week"}):
        from_duckdb = run(SparkSource(spark, root), **options)
        from_pg = run(SparkSource(spark, pg_lake), **options)
        assert_same(from_duckdb, from_pg)
        assert_same(run(store, **options), from_pg)


def test_stitched_people_are_exported_and_followed(
    lake: tuple[EventStore, Path], spark: Any
) -> None:
    store, root = lake
    assert isinstance(people_for(store), StitchedPeople)
    assert isinstance(people_for(SparkSource(spark, root)), StitchedPeople)


def test_incremental_export_writes_only_changed_days(tmp_path: Path) -> None:
    j = Journeys()
    j.page("a", T0 - days(2), gclid="G1")
    j.convert("a", T0 - days(1), value=10, order_id="o1")
    store = j.store(tmp_path)
    url = f"duckdb://{tmp_path / 'attr.duckdb'}"
    store.close()
    out = tmp_path / "lake"

    def export() -> list[str]:
        return export_url(url, out).written

    assert export() == ["2024-05-18", "2024-05-19"]
    first = (out / "events" / "date=2024-05-18" / "part-0.parquet").stat().st_mtime_ns
    assert export() == []
    new = j.page("b", T0)  # a new day
    writer = open_store(url)
    writer.append([new])
    writer.close()
    assert export() == ["2024-05-20"]
    assert (out / "events" / "date=2024-05-18" / "part-0.parquet").stat().st_mtime_ns == first
    assert sorted(p.name for p in (out / "events").iterdir()) == [
        "date=2024-05-18", "date=2024-05-19", "date=2024-05-20",
    ]  # fmt: skip


def test_spark_spelling_leaves_literals_alone() -> None:
    sql = "SELECT CAST(x AS VARCHAR), 1.0, t1.5, 'AS VARCHAR 2.5' FROM t"
    assert spark_sql(sql) == "SELECT CAST(x AS STRING), 1.0D, t1.5, 'AS VARCHAR 2.5' FROM t"
