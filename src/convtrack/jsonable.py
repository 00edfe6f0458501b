"""Store values (datetimes, decimals) as plain JSON-friendly values, for output."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any


def plain(value: Any) -> Any:
    """ISO text for dates and times, exact text for decimals, anything else unchanged."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def plain_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: plain(v) for k, v in row.items()}
