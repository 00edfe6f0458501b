"""Markov attribution: convtrack's exact removal effects vs ChannelAttribution's simulation.

For 10, 20 and 200 channels, generates ``--journeys`` journeys (1 M by default; untimed):
Zipf-skewed channel popularity (exponent 1.1), path lengths geometric with mean 2.5 (capped
at 30), a 25 % chance that a touch repeats the previous channel, and a conversion chance
from a per-channel effect and the path length (3-5 % convert). They are aggregated into
distinct paths (a ``PathSet``). Then, per channel count and Markov order 1, 2, 3, each in a
fresh subprocess (so each peak RSS, ``getrusage`` of that process, counts C++ memory too):

  * ours    ``convtrack.attribution.markov.global_totals`` (builds the chain, solves it
            exactly, spreads the conversions as RE / ΣRE): best of ``--repeat`` runs;
  * theirs  ``ChannelAttribution.markov_model`` 2.2.x (Monte Carlo, defaults: 1 core,
            ``conv_par`` 0.05, ``seed`` 0) on a DataFrame of "c1 > c2" paths with integer
            conversions and nulls; one run, stopped after ``--reference-timeout`` seconds.

Compares time (ratio), peak RSS, and their per-channel ``total_conversions`` with our exact
totals (max and mean absolute relative difference; ours differ from the exact solution by
0 by construction: they are it). Goals: no simulation error; >= 20x faster at 200
channels; not slower at 10; peak memory <= theirs.

Run:  python bench/attribution_models.py [--journeys 1000000] [--channels 10,20,200]
      [--orders 1,2,3] [--reference-timeout 900] [--no-reference]
Reference: pip install -r bench/requirements-attribution.txt (needs a C++ compiler).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PeakRss, descendants, emit, environment, rss_kb, wait_for_quiet  # noqa: E402

HERE = Path(__file__).resolve()
INSTALL = "pip install -r bench/requirements-attribution.txt"
GOAL_SPEEDUP_200 = 20.0


# -- data -------------------------------------------------------------------------------
def journeys(n: int, channels: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(labels, lengths, converted)``: ``n`` journeys end to end."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, channels + 1) ** 1.1
    popularity /= popularity.sum()
    lengths = np.minimum(rng.geometric(0.4, n), 30)
    total = int(lengths.sum())
    labels = rng.choice(channels, size=total, p=popularity)
    firsts = np.cumsum(lengths) - lengths
    repeat = rng.random(total) < 0.25
    repeat[firsts] = False
    source = np.maximum.accumulate(np.where(repeat, -1, np.arange(total)))
    labels = labels[source]  # a repeated touch copies the last fresh one
    effect = rng.normal(0.0, 0.6, channels)
    journey = np.repeat(np.arange(n), lengths)
    score = np.bincount(journey, weights=effect[labels], minlength=n) / np.sqrt(lengths)
    chance = 1.0 / (1.0 + np.exp(-(-3.4 + score + 0.15 * lengths)))
    return labels, lengths, rng.random(n) < chance


def aggregate(labels: np.ndarray, lengths: np.ndarray, converted: np.ndarray) -> dict[str, Any]:
    """Distinct paths as flat arrays: ``flat``, ``lengths``, ``conversions``, ``nulls``."""
    n, width = len(lengths), int(lengths.max())
    grid = np.full((n, width), -1, dtype=np.int16)
    column = np.arange(len(labels)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    grid[np.repeat(np.arange(n), lengths), column] = labels
    rows = np.ascontiguousarray(grid).view(np.dtype((np.void, 2 * width))).ravel()
    _, first, index = np.unique(rows, return_index=True, return_inverse=True)
    distinct = grid[first]
    return {
        "flat": distinct[distinct >= 0].astype(np.int32),
        "lengths": (distinct >= 0).sum(axis=1),
        "conversions": np.bincount(index, weights=converted, minlength=len(first)),
        "nulls": np.bincount(index, weights=~converted, minlength=len(first)),
    }


def peak_kb() -> tuple[int, int]:
    """This process's peak RSS in KiB: ``VmHWM`` (its own address space) and ``getrusage``
    (which, on Linux, also keeps the parent's RSS at fork time: the parent stays small)."""
    hwm = next(
        int(line.split()[1])
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    return hwm, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def write_data(path: Path, journeys_n: int, channels: int, seed: int) -> dict[str, Any]:
    """Generate and aggregate the journeys into ``path`` (run in its own process so that the
    benchmark's parent process stays small)."""
    labels, lengths, converted = journeys(journeys_n, channels, seed)
    parts = aggregate(labels, lengths, converted)
    np.savez(path, channels=channels, **parts)
    return {
        "distinct_paths": len(parts["lengths"]),
        "touches": int(lengths.sum()),
        "conversions": int(converted.sum()),
    }


def load(path: Path) -> tuple[list[tuple[int, ...]], np.ndarray, np.ndarray, int]:
    data = np.load(path)
    flat, ends = data["flat"].tolist(), np.cumsum(data["lengths"]).tolist()
    paths = [tuple(flat[a:b]) for a, b in zip([0, *ends[:-1]], ends, strict=True)]
    return paths, data["conversions"], data["nulls"], int(data["channels"])


# -- the two workers (each in a fresh process) -----------------------------------------------
def worker_ours(path: Path, order: int) -> dict[str, Any]:
    from convtrack.attribution import markov
    from convtrack.attribution.model import PathSet

    paths, conv, null, channels = load(path)
    pathset = PathSet([f"c{i}" for i in range(channels)], paths, conv, null)
    before = rss_kb([os.getpid()])
    t0 = time.perf_counter()
    totals = markov.global_totals(pathset, order)
    seconds = time.perf_counter() - t0
    peak, rusage = peak_kb()
    states = markov.build_chain(pathset, order).q.shape[0]
    return {
        "seconds": seconds,
        "peak_kb": peak,
        "rusage_kb": rusage,
        "before_kb": before,
        "totals": totals.tolist(),
        "states": states,
    }


def worker_theirs(path: Path, order: int) -> dict[str, Any]:
    try:
        import pandas as pd
        from ChannelAttribution import markov_model
    except ImportError as exc:
        return {"missing": f"{exc}"}
    paths, conv, null, channels = load(path)
    frame = pd.DataFrame(
        {
            "path": [" > ".join(f"c{c}" for c in p) for p in paths],
            "conv": conv.astype(np.int64),
            "null": null.astype(np.int64),
        }
    )
    del paths
    before = rss_kb([os.getpid()])
    t0 = time.perf_counter()
    result = markov_model(
        frame, "path", "conv", var_null="null", order=order, verbose=False, flg_pro=False
    )
    seconds = time.perf_counter() - t0
    peak, rusage = peak_kb()
    got = dict(zip(result["channel_name"], result["total_conversions"], strict=True))
    totals = [float(got.get(f"c{i}", 0.0)) for i in range(channels)]
    return {
        "seconds": seconds,
        "peak_kb": peak,
        "rusage_kb": rusage,
        "before_kb": before,
        "totals": totals,
    }


def run_worker(kind: str, data: Path, order: int, timeout: float) -> dict[str, Any]:
    """One worker in a fresh interpreter; on timeout it is stopped and only the peak RSS
    sampled from /proc (a lower bound) is known."""
    cmd = [sys.executable, str(HERE), "--worker", kind, "--data", str(data)]
    cmd += ["--order", str(order)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    t0 = time.perf_counter()
    with PeakRss(lambda: descendants(proc.pid), interval=0.2) as sampled:
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return {
                "timeout": True,
                "seconds": time.perf_counter() - t0,
                "peak_kb": sampled.peak_kb,
            }
    if proc.returncode != 0:
        raise SystemExit(f"{kind} worker failed (order {order}); see its output above")
    return dict(json.loads(out.strip().splitlines()[-1]))


# -- comparison -----------------------------------------------------------------------------
def differences(theirs: list[float], exact: list[float]) -> tuple[float, float]:
    """Max and mean of |theirs - exact| / exact over channels with exact > 0."""
    a, b = np.asarray(theirs), np.asarray(exact)
    rel = np.abs(a[b > 0] - b[b > 0]) / b[b > 0]
    return float(rel.max()), float(rel.mean())


def measure(args: argparse.Namespace, data: Path, order: int, reference: bool) -> dict[str, Any]:
    ours = []
    for _ in range(args.repeat):
        wait_for_quiet(args.quiet_wait)
        ours.append(run_worker("ours", data, order, timeout=3600))
    best = min(ours, key=lambda r: r["seconds"])
    row: dict[str, Any] = {
        "order": order,
        "states": best["states"],
        "ours_s": round(best["seconds"], 4),
        "ours_peak_mib": round(max(r["peak_kb"] for r in ours) / 1024, 1),
        "ours_grew_mib": round((best["peak_kb"] - best["before_kb"]) / 1024, 1),
    }
    if not reference:
        return row
    wait_for_quiet(args.quiet_wait)
    theirs = run_worker("theirs", data, order, timeout=args.reference_timeout)
    if "missing" in theirs:
        print(f"  ChannelAttribution is not installed ({theirs['missing']}); {INSTALL}")
        row["theirs"] = "missing"
        return row
    row["theirs_s"] = round(theirs["seconds"], 3)
    row["theirs_peak_mib"] = round(theirs["peak_kb"] / 1024, 1)
    if theirs.get("timeout"):
        row["theirs_timeout"] = True  # time and memory are lower bounds
    else:
        row["theirs_grew_mib"] = round((theirs["peak_kb"] - theirs["before_kb"]) / 1024, 1)
        row["max_rel_diff"], row["mean_rel_diff"] = differences(theirs["totals"], best["totals"])
    row["speedup"] = round(row["theirs_s"] / row["ours_s"], 1)
    return row


def show(channels: int, row: dict[str, Any]) -> None:
    line = f"  {channels:>3} ch  order {row['order']}  {row['states']:>7} states  ours "
    line += f"{row['ours_s']:8.3f} s {row['ours_peak_mib']:4.0f} MiB (+{row['ours_grew_mib']:.0f})"
    if "theirs_s" in row:
        bound = ">=" if row.get("theirs_timeout") else ""
        line += f"  | theirs {bound}{row['theirs_s']:.2f} s {bound}{row['theirs_peak_mib']:.0f} MiB"
        if "theirs_grew_mib" in row:
            line += f" (+{row['theirs_grew_mib']:.0f})"
        line += f"  | x{bound}{row['speedup']}"
        if "max_rel_diff" in row:
            line += f"  | their error max {row['max_rel_diff']:.1%} mean {row['mean_rel_diff']:.2%}"
    print(line, flush=True)


def verdict(rows: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
    compared = [(c, r) for c, rs in rows.items() for r in rs if "speedup" in r]
    at_200 = [r["speedup"] for c, r in compared if c == 200]
    at_10 = [r for c, r in compared if c == 10]
    return {
        "simulation_error": 0.0,
        "speedup_200_min": min(at_200) if at_200 else None,
        "speedup_200_ok": bool(at_200) and min(at_200) >= GOAL_SPEEDUP_200,
        "not_slower_10": bool(at_10) and all(r["ours_s"] <= r["theirs_s"] for r in at_10),
        "memory_ok": bool(compared)
        and all(r["ours_peak_mib"] <= r["theirs_peak_mib"] for _, r in compared),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--journeys", type=lambda s: int(float(s)), default=1_000_000)
    ap.add_argument("--channels", default="10,20,200", help="comma-separated channel counts")
    ap.add_argument("--orders", default="1,2,3", help="comma-separated Markov orders")
    ap.add_argument("--repeat", type=int, default=3, help="runs of ours (best is kept)")
    ap.add_argument("--reference-timeout", type=float, default=900.0, metavar="SECONDS")
    ap.add_argument("--no-reference", action="store_true", help="time ours only")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quiet-wait", type=float, default=10.0, metavar="SECONDS")
    ap.add_argument("--worker", choices=["data", "ours", "theirs"], help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--order", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "data":  # --order is the channel count here
        print(json.dumps(write_data(args.data, args.journeys, args.order, args.seed)))
        return 0
    if args.worker:
        work = worker_ours if args.worker == "ours" else worker_theirs
        print(json.dumps(work(args.data, args.order)), flush=True)
        return 0

    reference = not args.no_reference
    if (
        reference
        and subprocess.run(
            [sys.executable, "-c", "import ChannelAttribution"], capture_output=True
        ).returncode
    ):
        print(f"ChannelAttribution is not installed; comparing nothing. To install: {INSTALL}")
        reference = False
    orders = [int(o) for o in args.orders.split(",")]
    rows: dict[int, list[dict[str, Any]]] = {}
    data_info: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="convtrack-bench-markov-") as tmp:
        for channels in (int(c) for c in args.channels.split(",")):
            data = Path(tmp) / f"paths-{channels}.npz"
            make = [sys.executable, str(HERE), "--worker", "data", "--data", str(data)]
            make += ["--order", str(channels), "--journeys", str(args.journeys)]
            made = subprocess.run(
                [*make, "--seed", str(args.seed)], check=True, capture_output=True
            )
            info = data_info[channels] = json.loads(made.stdout)
            print(
                f"{channels} channels: {args.journeys:,} journeys, {info['touches']:,} touches, "
                f"{info['conversions']:,} conversions, {info['distinct_paths']:,} distinct paths"
            )
            rows[channels] = []
            for order in orders:
                row = measure(args, data, order, reference)
                rows[channels].append(row)
                show(channels, row)
    result = verdict(rows)
    print(f"\nours: exact (0 simulation error by construction). {json.dumps(result)}")
    emit(
        {
            "bench": "attribution_models",
            "journeys": args.journeys,
            "data": data_info,
            "results": rows,
            "goals": result,
            "env": environment(),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
