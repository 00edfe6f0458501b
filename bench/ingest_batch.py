"""Batch API throughput, durably committed, end to end over HTTP vs the raw DuckDB append.

HTTP side: a real ``convtrack serve`` subprocess on 127.0.0.1 (temp data dir, a secret key
made with ``convtrack keys create --secret``), several keep-alive connections posting
pre-encoded 1000-event batches to ``POST /v1/events``. Only 200 answers count, by their
``accepted`` field; at the end the server is stopped and the store count must equal the
acknowledged events (+ warm-up events).

Reference, same run, same events: the canonical ``Event`` objects built in-process and appended
with ``DuckDBStore.append`` into a fresh file on the same file system:
  * arrow build+insert   ``to_arrow`` + transaction, per 1000-event batch
  * insert only          the same transaction from a prebuilt Arrow table
  * build+insert at the server's mean group-commit size (it merges concurrent requests)
Ratio (the goal is >= 0.6): HTTP events/s / raw build+insert events/s (1000-event batches).

Client: stdlib ``http.client`` keep-alive, one thread per connection, bodies encoded before
the clock starts; its CPU time is measured and printed, as are the server's and the rest of
the machine's (2 cores: anything else running skews the figures).

Run:  python bench/ingest_batch.py [--events 300000] [--connections 8] [--py-spy FILE]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _events
from _common import (
    PeakRss,
    Server,
    all_process_cpu,
    busiest_others,
    cpu_seconds,
    emit,
    environment,
    machine_cpu,
    prepared_objects,
    rate,
    wait_for_quiet,
    warn_if_busy,
)
from _store import prebuilt_arrow
from convtrack.events import Event
from convtrack.store.arrow import to_arrow
from convtrack.store.duckdb_store import DuckDBStore

WARMUP_BATCHES = 5


@dataclass
class LoadResult:
    acked_events: int = 0
    acked_batches: list[int] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def post_all(
    port: int, key: str, bodies: list[bytes], connections: int, deadline: float, result: LoadResult
) -> None:
    """Post every body once over ``connections`` keep-alive connections (or until deadline)."""
    counter = itertools.count()
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while (i := next(counter)) < len(bodies) and time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                conn.request("POST", "/v1/events", body=bodies[i], headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                with result.lock:
                    result.errors[type(exc).__name__] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                continue
            elapsed = time.perf_counter() - started
            accepted = json.loads(payload)["accepted"] if response.status == 200 else 0
            with result.lock:
                result.statuses[response.status] += 1
                result.latencies.append(elapsed)
                if response.status == 200:
                    result.acked_events += accepted
                    result.acked_batches.append(i)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# -- py-spy (optional) -------------------------------------------------------------------
def start_py_spy(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy")
    if exe is None:
        print("py-spy not found: pip install py-spy (see docs/benchmarks.md)", file=sys.stderr)
        return None
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--rate",
            "200",
            "--format",
            "raw",
            "--threads",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_py_spy(proc: subprocess.Popen[bytes], out: Path, top: int = 15) -> list[list[Any]]:
    """Stop py-spy and summarise its raw stacks: by thread, own time, convtrack inclusive."""
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        thread, *rest = stack.split(";")
        frames = [f.rsplit(":", 1)[0] + ")" if ":" in f else f for f in rest]
        total += n
        threads[thread.split(": ", 1)[-1] if ": " in thread else "unnamed (granian runtime)"] += n
        own[frames[-1] if frames else "(native code, no Python frame)"] += n
        for name in set(frames):
            if "convtrack/" in name and "convtrack/cli/" not in name and "__main__" not in name:
                inclusive[name] += n
    total = max(total, 1)
    print(f"\npy-spy on the worker process ({total} non-idle samples at 200 Hz, all threads):")
    print("  by thread: " + ", ".join(f"{name} {n / total:.0%}" for name, n in threads.items()))
    print("  own time (top frames; native time counts for the calling Python frame)")
    for name, n in own.most_common(top):
        print(f"    {n / total:6.1%}  {name}")
    print("  inclusive, convtrack functions (the function and everything it calls)")
    for name, n in inclusive.most_common(top):
        print(f"    {n / total:6.1%}  {name}")
    return [[name, round(n / total, 4)] for name, n in own.most_common(top)]


# -- HTTP run ----------------------------------------------------------------------------
def http_run(
    args: argparse.Namespace, tmp: Path, warm: list[bytes], bodies: list[bytes], batch: int
) -> dict[str, Any]:
    server = Server(tmp / "http-data", switch_interval=args.switch_interval)
    try:
        key = server.create_secret_key()
        warm_result = LoadResult()
        post_all(server.port, key, warm, 1, time.monotonic() + 60, warm_result)
        if warm_result.acked_events != len(warm) * batch:
            raise SystemExit(f"warm-up failed: {warm_result}; see {server.log_path}")

        spy = (
            start_py_spy(server.worker_pid() or server.proc.pid, tmp / "py-spy.txt")
            if args.py_spy
            else None
        )
        result = LoadResult()
        wait_for_quiet(args.quiet_wait)
        pids = server.pids()
        procs0 = all_process_cpu()
        cpu0, (busy0, irq0), client0 = cpu_seconds(pids), machine_cpu(), time.process_time()
        with PeakRss(server.pids) as rss:
            t0 = time.perf_counter()
            post_all(
                server.port,
                key,
                bodies,
                args.connections,
                time.monotonic() + args.max_seconds,
                result,
            )
            wall = time.perf_counter() - t0
        client_cpu = time.process_time() - client0
        server_cpu = cpu_seconds(pids) - cpu0
        busy1, irq1 = machine_cpu()
        busy, irq = busy1 - busy0, irq1 - irq0
        others = busiest_others(procs0, all_process_cpu(), {*pids, os.getpid()}, wall)
        hot = stop_py_spy(spy, tmp / "py-spy.txt") if spy else []
        if spy and args.py_spy != "-":
            shutil.copy(tmp / "py-spy.txt", args.py_spy)
        status = server.admin("/v1/admin/status")
    finally:
        server.stop()
    with DuckDBStore(server_store_url(server.data_dir), read_only=True) as store:
        stored = store.count_events()
    expected = result.acked_events + warm_result.acked_events
    lat = sorted(result.latencies) or [0.0]
    commits = max(int(status["commits"]), 1)
    return {
        "events_per_s": rate(result.acked_events, wall),
        "acked_events": result.acked_events,
        "acked_batches": sorted(result.acked_batches),
        "requests": sum(result.statuses.values()),
        "statuses": dict(result.statuses),
        "client_errors": dict(result.errors),
        "wall_s": wall,
        "latency_ms": {
            "p50": statistics.median(lat) * 1000,
            "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
            "max": lat[-1] * 1000,
        },
        "cpu_cores": {
            "server": server_cpu / wall,
            "client": client_cpu / wall,
            "irq_softirq": irq / wall,
            "other": max(busy - server_cpu - client_cpu - irq, 0.0) / wall,
            "busiest_others": others,
        },
        "server_peak_rss_mb": rss.peak_kb / 1024,
        "stored": stored,
        "stored_expected": expected,
        "verified": stored == expected,
        "commits": int(status["commits"]),
        "mean_commit_events": int(status["events_committed"]) / commits,
        "py_spy_top_own": hot,
    }


def server_store_url(data_dir: Path) -> str:
    return "duckdb://" + (data_dir / "convtrack.duckdb").resolve().as_posix()


# -- raw reference -----------------------------------------------------------------------
def fresh_store(tmp: Path, name: str, warm: list[list[Event]]) -> DuckDBStore:
    store = DuckDBStore(f"duckdb://{tmp}/{name}.duckdb")
    store.migrate()
    for events in warm:
        store.append(events)
    return store


def raw_run(
    tmp: Path,
    warm: list[list[Event]],
    batches: list[list[Event]],
    commit_size: int,
    quiet_wait: float,
) -> dict[str, Any]:
    n = sum(len(b) for b in batches)
    wait_for_quiet(quiet_wait)
    with fresh_store(tmp, "raw-build-insert", warm) as store:
        t0 = time.perf_counter()
        for events in batches:
            store.append(events)
        build_insert = time.perf_counter() - t0

    t0 = time.perf_counter()
    tables = [to_arrow(events) for events in batches]
    build_only = time.perf_counter() - t0
    with fresh_store(tmp, "raw-insert-only", warm) as store, prebuilt_arrow(tables):
        t0 = time.perf_counter()
        for events in batches:
            store.append(events)
        insert_only = time.perf_counter() - t0

    grouped = commit_size // len(batches[0]) if batches else 1
    out = {
        "events": n,
        "build_insert_events_per_s": rate(n, build_insert),
        "insert_only_events_per_s": rate(n, insert_only),
        "build_only_events_per_s": rate(n, build_only),
        "build_share_of_build_insert": build_only / (build_only + insert_only),
    }
    if grouped > 1:
        merged = [sum(batches[i : i + grouped], []) for i in range(0, len(batches), grouped)]
        with fresh_store(tmp, "raw-commit-size", warm) as store:
            t0 = time.perf_counter()
            for events in merged:
                store.append(events)
            out["commit_size_events"] = len(merged[0])
            out["commit_size_build_insert_events_per_s"] = rate(n, time.perf_counter() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=300_000, help="events to post (default 300k)")
    ap.add_argument("--batch", type=int, default=1000, help="events per request")
    ap.add_argument("--connections", type=int, default=8, help="concurrent client connections")
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=55.0,
        help="stop posting new batches after this long (bounds the run)",
    )
    ap.add_argument(
        "--py-spy",
        metavar="FILE",
        help="profile the server worker with py-spy during the load (skews the "
        "figures a little); FILE gets the raw stacks, '-' keeps none",
    )
    ap.add_argument(
        "--switch-interval",
        type=float,
        metavar="SECONDS",
        help="experiment: run the server with sys.setswitchinterval(SECONDS) "
        "(default: Python's 0.005)",
    )
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="before each measured phase wait up to this long for the machine "
        "to be idle (0: do not wait)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="convtrack-bench-"))
    try:
        t0 = time.perf_counter()
        run = f"b{int(time.time())}"
        with prepared_objects():
            all_batches = _events.make_batches(
                (args.events // args.batch + WARMUP_BATCHES) * args.batch, args.batch, run
            )
            bodies = _events.encode_batches(all_batches)
            del all_batches
        warm, load = bodies[:WARMUP_BATCHES], bodies[WARMUP_BATCHES:]
        mean_kib = sum(map(len, load)) / len(load) / 1024
        print(
            f"ingest_batch: {len(load)} batches x {args.batch} events "
            f"(mean body {mean_kib:.0f} KiB), {args.connections} connections; "
            f"prepared in {time.perf_counter() - t0:.1f}s; temp dir {tmp}"
        )

        h = http_run(args, tmp, warm, load, args.batch)
        acked = [load[i] for i in h.pop("acked_batches")]
        commit_size = round(h["mean_commit_events"])
        print(
            f"\nHTTP  {h['events_per_s']:>10,.0f} events/s  ({h['acked_events']:,} acknowledged "
            f"in {h['wall_s']:.2f}s; statuses {h['statuses']}; client errors "
            f"{h['client_errors'] or 0})"
        )
        lat = h["latency_ms"]
        print(
            f"      request latency p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, "
            f"max {lat['max']:.1f} ms"
        )
        cpu = h["cpu_cores"]
        print(
            f"      CPU (cores busy): server {cpu['server']:.2f}, client {cpu['client']:.2f}, "
            f"irq+softirq {cpu['irq_softirq']:.2f}, rest (kernel threads, other processes) "
            f"{cpu['other']:.2f} {cpu['busiest_others'] or ''}"
        )
        warn_if_busy(cpu["other"])
        print(f"      server peak RSS {h['server_peak_rss_mb']:.0f} MiB (serve + granian worker)")
        print(
            f"      group commit: {h['commits']} commits, mean {h['mean_commit_events']:,.0f} "
            "events per commit"
        )
        print(
            f"      stored {h['stored']:,} / expected {h['stored_expected']:,} "
            f"(acknowledged + {WARMUP_BATCHES * args.batch} warm-up): "
            f"{'OK' if h['verified'] else 'MISMATCH'}"
        )

        t1 = time.perf_counter()
        with prepared_objects():
            events = _events.canonical(warm + acked)
        print(
            f"\nraw reference: {len(acked)} batches rebuilt as canonical events in "
            f"{time.perf_counter() - t1:.1f}s (untimed)"
        )
        r = raw_run(
            tmp, events[:WARMUP_BATCHES], events[WARMUP_BATCHES:], commit_size, args.quiet_wait
        )
        print(
            f"raw   {r['build_insert_events_per_s']:>10,.0f} events/s  arrow build+insert "
            f"({args.batch}-event transactions)"
        )
        print(
            f"raw   {r['insert_only_events_per_s']:>10,.0f} events/s  insert only "
            "(prebuilt Arrow tables)"
        )
        print(
            f"raw   {r['build_only_events_per_s']:>10,.0f} events/s  to_arrow only "
            f"(build = {r['build_share_of_build_insert']:.0%} of build+insert time)"
        )
        if "commit_size_events" in r:
            print(
                f"raw   {r['commit_size_build_insert_events_per_s']:>10,.0f} events/s  arrow "
                f"build+insert at the server's commit size ({r['commit_size_events']} events)"
            )

        ratio = h["events_per_s"] / r["build_insert_events_per_s"]
        ratio_insert = h["events_per_s"] / r["insert_only_events_per_s"]
        print(
            f"\nratio HTTP / raw build+insert = {ratio:.2f}  (goal >= 0.6: "
            f"{'met' if ratio >= 0.6 else 'NOT met'}); HTTP / raw insert only = "
            f"{ratio_insert:.2f}"
        )
        if "commit_size_build_insert_events_per_s" in r:
            print(
                "ratio HTTP / raw build+insert at commit size = "
                f"{h['events_per_s'] / r['commit_size_build_insert_events_per_s']:.2f}"
            )
        emit(
            {
                "bench": "ingest_batch",
                "http_events_per_s": round(h["events_per_s"]),
                "raw_build_insert_events_per_s": round(r["build_insert_events_per_s"]),
                "raw_insert_only_events_per_s": round(r["insert_only_events_per_s"]),
                "ratio": round(ratio, 3),
                "ratio_vs_insert_only": round(ratio_insert, 3),
                "goal_ratio": 0.6,
                "verified": h["verified"],
                "http": _rounded(h),
                "raw": _rounded(r),
                "batch": args.batch,
                "connections": args.connections,
                "server_switch_interval": args.switch_interval,
                "mean_body_kib": round(mean_kib, 1),
                "env": environment(),
            }
        )
        return 0 if h["verified"] else 1
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 3)
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj


if __name__ == "__main__":
    sys.exit(main())
