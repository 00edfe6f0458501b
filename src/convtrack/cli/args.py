"""Arguments every command takes."""

from __future__ import annotations

import argparse


def settings_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML config file (default: ./convtrack.toml if present)")
    p.add_argument("--data-dir", help="data directory (default: ./convtrack-data)")
    p.add_argument("--store", help="store URL, e.g. duckdb:///path/to/convtrack.duckdb")
