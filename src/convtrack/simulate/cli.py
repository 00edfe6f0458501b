"""``convtrack simulate`` (placeholder until the simulator lands)."""

from __future__ import annotations

import argparse

from convtrack.config import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=int, default=7)


def run(args: argparse.Namespace, settings: Settings) -> int:
    raise SystemExit("simulate: not available yet")
