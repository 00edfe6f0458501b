"""Ad spend: files (CSV or Parquet) and API rows → validated ``SpendRow``s; the spend query.

docs/spend.md describes the format. A file is checked whole: every problem is reported with
its line (CSV; the header is line 1) or row (Parquet, from 1), column and reason, and a file
with any problem imports nothing. Extra columns are ignored (and listed, to catch typos).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from convtrack.attribution.dialect import GRAINS
from convtrack.currencies import ISO_4217
from convtrack.errors import ConvtrackError
from convtrack.store.base import SpendRow

# The channel of a platform's spend when the file has no channel (docs/spend.md).
CHANNEL_OF_PLATFORM = {
    **dict.fromkeys(["google_ads", "google", "microsoft_ads", "bing"], "Paid Search"),
    **dict.fromkeys(
        ["meta", "facebook", "instagram", "tiktok", "linkedin", "snapchat", "pinterest"]
        + ["reddit", "twitter", "x"],
        "Paid Social",
    ),
}
COLUMNS = ("date", "platform", "channel", "campaign", "spend", "currency", "impressions", "clicks")
ALIASES = {
    "day": "date",
    "source": "platform",
    "campaign_name": "campaign",
    "cost": "spend",
    "amount": "spend",
}
BY = ("platform", "channel", "campaign")
FORMATS = ("csv", "parquet")
MAX_SHOWN = 20  # problems listed in the message; ``details`` holds up to MAX_DETAILS
MAX_DETAILS = 100
_SUFFIXES = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}
_MICRO = Decimal("0.000001")
_MAX_SPEND = Decimal(10) ** 12  # DECIMAL(18, 6)
_MAX_COUNT = 2**63  # BIGINT


@dataclass(frozen=True)
class Defaults:
    """What ``--currency`` and ``--platform`` fill in where a file has no value."""

    currency: str | None = None
    platform: str | None = None


@dataclass(frozen=True)
class Problem:
    where: str  # "line 3" (CSV), "row 3" (Parquet), "/rows/2" (API)
    index: int  # the record's position, from 0
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.where}, {self.column}" if self.column else self.where
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Record:
    where: str
    index: int
    values: Mapping[str, Any]  # canonical column → raw value
    shape: str = ""  # a problem with the record as a whole (wrong number of fields)


@dataclass
class SpendFile:
    rows: list[SpendRow]
    ignored: list[str] = field(default_factory=list)  # columns not used


class _Bad(ValueError):
    """One value's problem (its reason); caught per column."""


# -- reading files ----------------------------------------------------------------------
def read_spend_file(
    path: Path, fmt: str | None = None, defaults: Defaults | None = None
) -> SpendFile:
    defaults = defaults or Defaults()
    fmt = fmt or _SUFFIXES.get(path.suffix.lower())
    if fmt not in FORMATS:
        raise ConvtrackError(
            "unknown_format",
            f"Cannot tell the format of {path.name} from its name; pass --format csv or parquet.",
        )
    if fmt == "parquet":
        header, records = _parquet_records(path)
        return parse_records(header, records, defaults)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConvtrackError("unreadable", f"Cannot read {path}: {exc.strerror}") from None
    header, records, delimiter = _csv_records(data, path.name)
    return parse_records(header, records, defaults, decimal_comma=delimiter == ";")


def _csv_records(data: bytes, name: str) -> tuple[list[str], Iterator[Record], str]:
    try:
        text = data.decode("utf-8-sig")  # with or without a byte order mark
    except UnicodeDecodeError as exc:
        raise ConvtrackError(
            "invalid_spend_file", f"{name} is not UTF-8 text (byte {exc.start}); save it as UTF-8."
        ) from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise ConvtrackError("invalid_spend_file", f"{name} is empty: it needs a header row.")
    return header, _csv_rows(reader, header), delimiter


def _csv_rows(reader: Any, header: list[str]) -> Iterator[Record]:
    for index, cells in enumerate(c for c in reader if any(x.strip() for x in c)):
        where = f"line {reader.line_num}"
        if len(cells) != len(header):
            shape = f"has {len(cells)} fields, the header has {len(header)}"
            yield Record(where, index, {}, shape)
        else:
            yield Record(where, index, dict(zip(header, cells, strict=True)))


def _parquet_records(path: Path) -> tuple[list[str], Iterator[Record]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise ConvtrackError("unreadable", f"Cannot read {path}: no such file") from None
    except (pa.ArrowException, OSError) as exc:
        raise ConvtrackError(
            "invalid_spend_file", f"{path.name} is not a readable Parquet file ({exc})."
        ) from None
    rows = table.to_pylist()
    records = (Record(f"row {i + 1}", i, values) for i, values in enumerate(rows))
    return list(table.column_names), records


# -- checking records -------------------------------------------------------------------
def canonical(name: str) -> str:
    key = name.strip().lower().replace(" ", "_")
    return ALIASES.get(key, key)


def _header_map(header: Sequence[str], defaults: Defaults) -> tuple[dict[str, str], list[str]]:
    """Each used column → its canonical name; the ignored ones. Refuses a file that lacks
    a needed column, or names one column twice."""
    used: dict[str, str] = {}
    for name in header:
        key = canonical(name)
        if key not in COLUMNS:
            continue
        twin = next((n for n, k in used.items() if k == key), None)
        if twin is not None:
            raise ConvtrackError(
                "invalid_spend_file", f"Columns {twin!r} and {name!r} both mean {key}; keep one."
            )
        used[name] = key
    found = set(used.values())
    missing = [c for c in ("date", "spend") if c not in found]
    if not found & {"platform", "channel"} and not defaults.platform:
        missing.append("platform or channel (or --platform)")
    if "currency" not in found and not defaults.currency:
        missing.append("currency (or --currency)")
    if missing:
        raise ConvtrackError(
            "invalid_spend_file",
            f"Missing column(s): {', '.join(missing)}. Found: {', '.join(header)}. "
            "See docs/spend.md for the columns and their aliases.",
        )
    return used, [h for h in header if h not in used]


def parse_records(
    header: Sequence[str],
    records: Iterable[Record],
    defaults: Defaults | None = None,
    *,
    decimal_comma: bool = False,
) -> SpendFile:
    """Check every record; return the rows, or raise with every problem found."""
    defaults = defaults or Defaults()
    used, ignored = _header_map(header, defaults)
    rows: list[SpendRow] = []
    problems: list[Problem] = []
    seen: dict[tuple[Any, ...], str] = {}
    for record in records:
        if record.shape:
            problems.append(Problem(record.where, record.index, "", record.shape))
            continue
        values = {used[k]: v for k, v in record.values.items() if k in used}
        row = _checked(record, values, defaults, decimal_comma, problems)
        if row is None:
            continue
        first = seen.setdefault(row.key, record.where)
        if first != record.where:
            reason = f"same date, platform, channel, campaign and currency as {first} (ambiguous)"
            problems.append(Problem(record.where, record.index, "key", reason))
        rows.append(row)
    if problems:
        raise invalid(problems)
    if not rows:
        raise ConvtrackError("invalid_spend_file", "The file has a header but no rows.")
    return SpendFile(rows, ignored)


def _checked(
    record: Record,
    values: Mapping[str, Any],
    defaults: Defaults,
    decimal_comma: bool,
    problems: list[Problem],
) -> SpendRow | None:
    """The record as a row, or ``None`` after adding its problems."""
    out: dict[str, Any] = {}
    before = len(problems)
    checks = {
        "day": ("date", lambda: _day(values.get("date"))),
        "platform": ("platform", lambda: _platform(values.get("platform"), defaults)),
        "campaign": ("campaign", lambda: _text(values.get("campaign"))),
        "spend": ("spend", lambda: _spend(values.get("spend"), decimal_comma)),
        "currency": ("currency", lambda: _currency(values.get("currency"), defaults)),
        "impressions": ("impressions", lambda: _count(values.get("impressions"))),
        "clicks": ("clicks", lambda: _count(values.get("clicks"))),
    }
    for name, (column, check) in checks.items():
        try:
            out[name] = check()
        except _Bad as bad:
            problems.append(Problem(record.where, record.index, column, str(bad)))
    if "platform" in out:
        try:
            out["channel"] = _channel(values.get("channel"), out["platform"])
        except _Bad as bad:
            column = "channel" if out["platform"] else "platform"
            problems.append(Problem(record.where, record.index, column, str(bad)))
    return SpendRow(**out) if len(problems) == before else None


def invalid(problems: Sequence[Problem]) -> ConvtrackError:
    shown = [f"  {p}" for p in problems[:MAX_SHOWN]]
    if len(problems) > MAX_SHOWN:
        shown.append(f"  … and {len(problems) - MAX_SHOWN} more")
    many = "s" if len(problems) != 1 else ""
    return ConvtrackError(
        "invalid_spend",
        f"{len(problems)} problem{many} in the spend rows; nothing was imported:\n"
        + "\n".join(shown),
        422,
        details=[
            {"index": p.index, "path": f"/rows/{p.index}/{p.column}", "reason": p.reason}
            for p in problems[:MAX_DETAILS]
        ],
    )


# -- one value each ---------------------------------------------------------------------
def _text(raw: Any) -> str:
    return "" if raw is None else str(raw).strip()


def _day(raw: Any) -> date:
    if isinstance(raw, datetime):
        if raw.time() != time(0):
            raise _Bad(f"{raw.isoformat()} has a time of day; give the date only")
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = _text(raw)
    if not text:
        raise _Bad("missing")
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise _Bad(f"{text!r} is not a date like 2024-05-01") from None


def platform_name(raw: Any) -> str:
    """``Google Ads`` → ``google_ads``: lower case, spaces and hyphens as underscores."""
    return "_".join(_text(raw).lower().replace("-", " ").split())


def _platform(raw: Any, defaults: Defaults) -> str:
    return platform_name(raw) or platform_name(defaults.platform)


def _channel(raw: Any, platform: str) -> str:
    text = _text(raw)
    if text:
        return text
    if not platform:
        raise _Bad("missing: a row needs a platform or a channel")
    if platform not in CHANNEL_OF_PLATFORM:
        raise _Bad(f"missing, and platform {platform!r} has no known channel: give one")
    return CHANNEL_OF_PLATFORM[platform]


def _number(raw: Any, decimal_comma: bool = False) -> Decimal:
    if isinstance(raw, bool):
        raise _Bad(f"{raw} is not a number")
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise _Bad(f"{raw} is not a number")
        return Decimal(repr(raw))
    if isinstance(raw, int | Decimal):
        value = Decimal(raw)
    else:
        text = _text(raw)
        if decimal_comma and "," in text and "." not in text:
            text = text.replace(",", ".", 1)
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise _Bad(
                f"{text!r} is not a number (digits and a '.' only: no currency sign or "
                "thousands separator)"
            ) from None
    if not value.is_finite():
        raise _Bad(f"{raw} is not a number")
    return value


def _spend(raw: Any, decimal_comma: bool) -> Decimal:
    if _text(raw) == "":
        raise _Bad("missing")
    value = _number(raw, decimal_comma)
    if value < 0:
        raise _Bad(f"{value} is negative")
    if value < _MAX_SPEND:  # (quantize refuses huge numbers)
        value = value.quantize(_MICRO) + 0  # 6 decimal places, as stored; + 0 turns -0 into 0
    if value >= _MAX_SPEND:
        raise _Bad(f"{raw} is too large (at most 999999999999.999999)")
    return value


def _count(raw: Any) -> int | None:
    if _text(raw) == "":
        return None
    value = _number(raw)
    if value != value.to_integral_value() or not 0 <= value < _MAX_COUNT:
        raise _Bad(f"{raw} is not a whole number of 0 or more")
    return int(value)


def _currency(raw: Any, defaults: Defaults) -> str:
    code = _text(raw).upper() or (defaults.currency or "").upper()
    if not code:
        raise _Bad("missing (give it in the file or with --currency)")
    if code not in ISO_4217:
        raise _Bad(f"{code!r} is not an ISO 4217 currency code")
    return code


# -- the admin API's wire format --------------------------------------------------------
def row_json(row: SpendRow) -> dict[str, Any]:
    """A row as ``POST /v1/admin/spend`` takes it (spend as exact decimal text)."""
    return {
        "date": row.day.isoformat(),
        "platform": row.platform,
        "channel": row.channel,
        "campaign": row.campaign,
        "spend": str(row.spend),
        "currency": row.currency,
        "impressions": row.impressions,
        "clicks": row.clicks,
    }


def rows_from_json(items: Sequence[Mapping[str, Any]]) -> list[SpendRow]:
    """Check rows sent to the admin API as strictly as a file (unknown fields are errors)."""
    problems: list[Problem] = []
    records = []
    for index, item in enumerate(items):
        where = f"/rows/{index}"
        values: dict[str, Any] = {}
        for key, value in item.items():
            name = canonical(key)
            if name not in COLUMNS or name in values:
                problems.append(Problem(where, index, key, "unknown or repeated field"))
            values[name] = value
        records.append(Record(where, index, values))
    if problems:
        raise invalid(problems)
    if not records:
        return []
    return parse_records(COLUMNS, records).rows


def json_chunks(rows: Sequence[SpendRow], budget: int) -> Iterator[list[dict[str, Any]]]:
    """Rows in API form, cut into requests of about ``budget`` bytes of JSON each."""
    chunk: list[dict[str, Any]] = []
    size = 0
    for row in rows:
        item = row_json(row)
        length = len(json.dumps(item)) + 2
        if chunk and size + length > budget:
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += length
    if chunk:
        yield chunk


# -- reading spend back -----------------------------------------------------------------
def spend_query(
    start: date | None, end: date | None, by: Sequence[str], grain: str | None
) -> tuple[str, list[Any]]:
    """Spend, impressions and clicks per time bucket, ``by`` keys and currency (portable SQL
    with ``?`` parameters). ``end`` is the first day left out; weeks start on Monday."""
    wrong = [b for b in by if b not in BY]
    if wrong or (grain is not None and grain not in GRAINS):
        raise ConvtrackError(
            "invalid_spend_query", f"by must be among {BY} and grain among {GRAINS}."
        )
    keys = list(dict.fromkeys(by))
    if grain == "day":
        keys.insert(0, "day")
    elif grain is not None:
        keys.insert(0, f"CAST(date_trunc('{grain}', day) AS DATE) AS {grain}")
    keys.append("currency")
    sums = ["SUM(spend) AS spend", "SUM(impressions) AS impressions", "SUM(clicks) AS clicks"]
    clauses, params = [], []
    if start is not None:
        clauses.append("day >= CAST(? AS DATE)")
        params.append(start.isoformat())
    if end is not None:
        clauses.append("day < CAST(? AS DATE)")
        params.append(end.isoformat())
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    positions = ", ".join(str(i) for i in range(1, len(keys) + 1))
    sql = (
        f"SELECT {', '.join(keys + sums)} FROM spend{where}"  # noqa: S608
        f" GROUP BY {positions} ORDER BY {positions}"
    )
    return sql, list(params)
