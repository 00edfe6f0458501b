"""``convtrack quarantine``: argument handling (the commands run end to end in tests/e2e)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from convtrack.cli import main
from convtrack.cli.quarantine import since_value
from convtrack.errors import ConvtrackError


def test_since_accepts_iso_times_and_ages() -> None:
    assert since_value("2024-05-01T12:00:00+00:00") == "2024-05-01T12:00:00+00:00"
    assert since_value("2024-05-01") == "2024-05-01T00:00:00"
    day_ago = datetime.fromisoformat(since_value("1d"))
    assert abs(datetime.now(UTC) - timedelta(days=1) - day_ago) < timedelta(minutes=1)
    assert datetime.fromisoformat(since_value("30m")) > day_ago
    with pytest.raises(ConvtrackError, match="24h"):
        since_value("yesterday")


@pytest.mark.parametrize("args", [[], ["r1", "--all"]])
def test_replay_needs_ids_or_all(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quarantine", "replay", *args]) == 2
    assert "--all" in capsys.readouterr().err
