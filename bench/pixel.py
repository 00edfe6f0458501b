"""Pixel hits/s (``GET /p.gif``) vs nginx ``empty_gif``, under the same ``wrk`` load, same run.

Both servers get one process for requests (convtrack: ``convtrack serve``, granian with one
worker; nginx: ``worker_processes 1``) and the same ``wrk -t1 -c64 --latency`` load after a
short warm-up. A third, informative reference is granian serving a no-op ASGI app that
returns the same GIF (bench/_bare_asgi.py): the ceiling of the HTTP server before convtrack
does any work. Reported per server: requests/s, p50/p99 latency, non-2xx and socket errors,
peak RSS (convtrack: the serve process + its granian worker; nginx: master + worker), sampled
from /proc every 50 ms. Afterwards the stored pixel events are counted with ``convtrack sql``
and must cover every hit wrk counted. Goal: convtrack/nginx requests/s >= 0.5.

Needs ``wrk`` and ``nginx`` (Debian: ``apt-get install -y wrk nginx-light``).
Run:  python bench/pixel.py [--duration 10] [--connections 64]
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from _common import (
    PeakRss,
    Server,
    cpu_seconds,
    descendants,
    emit,
    environment,
    free_port,
    machine_cpu,
    wait_for_quiet,
    warn_if_busy,
)

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ empty_gif; }}
    }}
}}
"""
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def pixel_path(key: str) -> str:
    query = urllib.parse.urlencode(
        {
            "k": key,
            "e": "signup",
            "a": "anon-5f1c2e9a",
            "url": "https://shop.example.com/signup?plan=pro",
            "utm_source": "newsletter",
            "utm_medium": "email",
            "utm_campaign": "spring_sale",
        }
    )
    return "/p.gif?" + query


def wrk(url: str, seconds: int, threads: int, connections: int) -> dict[str, Any]:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return parse_wrk(out)


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match[1]) * UNITS[match[2]]


def parse_wrk(out: str) -> dict[str, Any]:
    def find(pattern: str, default: str | None = None) -> str:
        match = re.search(pattern, out, re.M)
        if match:
            return match[1]
        if default is None:
            raise ValueError(f"wrk output lacks {pattern!r}:\n{out}")
        return default

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests_per_s": float(find(r"^Requests/sec:\s+([\d.]+)")),
        "requests": int(find(r"^\s+(\d+) requests in")),
        "p50_ms": _ms(find(r"^\s+50%\s+(\S+)")),
        "p99_ms": _ms(find(r"^\s+99%\s+(\S+)")),
        "non_2xx": int(find(r"Non-2xx or 3xx responses: (\d+)", "0")),
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
    }


def measure(url: str, pids: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then one measured wrk run while sampling RSS and CPU."""
    wait_for_quiet(args.quiet_wait)
    warm = wrk(url, args.warmup, args.threads, args.connections)
    sampled = pids()
    cpu0, (busy0, _) = cpu_seconds(sampled), machine_cpu()
    children0 = _children_cpu()
    t0 = time.perf_counter()
    with PeakRss(pids) as rss:
        result = wrk(url, args.duration, args.threads, args.connections)
    wall = time.perf_counter() - t0
    wrk_cpu = _children_cpu() - children0
    server_cpu = cpu_seconds(sampled) - cpu0
    busy = machine_cpu()[0] - busy0
    return {
        **result,
        "warmup_requests": warm["requests"],
        "peak_rss_mb": rss.peak_kb / 1024,
        "server_cores": server_cpu / wall,
        "wrk_cores": wrk_cpu / wall,
        "other_cores": max(busy - server_cpu - wrk_cpu, 0.0) / wall,
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_nginx(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(exe).exists():
        raise SystemExit("nginx not found: apt-get install -y nginx-light")
    conf_dir = tmp / "nginx"
    conf_dir.mkdir()
    port = free_port()
    conf = conf_dir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=conf_dir, port=port))
    proc = subprocess.Popen(
        [exe, "-p", str(conf_dir), "-e", str(conf_dir / "error.log"), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/p.gif?k=x&e=signup"
    try:
        _wait_http(url, proc)
        return measure(url, lambda: descendants(proc.pid), args)
    finally:
        proc.terminate()
        proc.wait(10)


def _wait_http(url: str, proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url} not answering after {timeout}s")


def run_bare_granian(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-ws",
            "--log-level",
            "warning",
            "--working-dir",
            str(Path(__file__).parent),
            "_bare_asgi:app",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/p.gif?k=x&e=signup"
    try:
        _wait_http(url, proc, timeout=30)
        return measure(url, lambda: descendants(proc.pid), args)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)


def stored_pixel_events(server: Server, at_least: int, timeout: float = 30) -> int:
    """Count pixel events with ``convtrack sql`` until the group commit has drained."""
    deadline = time.monotonic() + timeout
    last = -1
    while True:
        count = int(server.sql_scalar("SELECT count(*) FROM events WHERE source = 'pixel'"))
        if (count >= at_least and count == last) or time.monotonic() > deadline:
            return count
        last = count
        time.sleep(0.5)


def run_convtrack(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = {}
    if args.commit_interval_ms is not None:
        env["CONVTRACK_COMMIT_INTERVAL_MS"] = str(args.commit_interval_ms)
    server = Server(tmp / "pixel-data", env=env, switch_interval=args.switch_interval)
    try:
        if not server.public_key:
            raise SystemExit(f"no public key in the serve banner; see {server.log_path}")
        url = server.url + pixel_path(server.public_key)
        result = measure(url, server.pids, args)
        hits = result["requests"] + result["warmup_requests"]
        result["stored"] = stored_pixel_events(server, hits)
        result["hits_counted_by_wrk"] = hits
        try:
            status = server.admin("/v1/admin/status")
        except OSError as exc:  # the figures stand; only the writer's counters are unknown
            print(f"(admin status failed: {exc})")
            status = {}
        result["pixel_dropped"] = status.get("pixel_dropped", {})
        result["commits"] = status.get("commits", 0)
        result["mean_commit_events"] = status.get("events_committed", 0) / max(
            status.get("commits", 0), 1
        )
        result["quarantined"] = int(server.sql_scalar("SELECT count(*) FROM quarantine"))
        # wrk counts only the answers it read before its clock stopped: the server may have
        # stored up to one more hit per open connection (per run) than wrk counted.
        slack = 2 * args.connections
        result["verified"] = (
            hits <= result["stored"] <= hits + slack and not result["pixel_dropped"]
        )
        return result
    finally:
        server.stop()


def show(name: str, r: dict[str, Any]) -> None:
    print(
        f"{name:<10}{r['requests_per_s']:>11,.0f} req/s   p50 {r['p50_ms']:7.2f} ms   "
        f"p99 {r['p99_ms']:7.2f} ms   peak RSS {r['peak_rss_mb']:6.1f} MiB   "
        f"CPU server {r['server_cores']:.2f} wrk {r['wrk_cores']:.2f} other "
        f"{r['other_cores']:.2f}   non-2xx {r['non_2xx']}   "
        f"socket errors {r['socket_errors']}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds of measured load")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of warm-up load")
    ap.add_argument("--connections", type=int, default=64, help="wrk -c")
    ap.add_argument("--threads", type=int, default=1, help="wrk -t")
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="before each server's run wait up to this long for the machine to be "
        "idle (0: do not wait)",
    )
    ap.add_argument(
        "--switch-interval",
        type=float,
        metavar="SECONDS",
        help="experiment: run convtrack with sys.setswitchinterval(SECONDS) "
        "(default: Python's 0.005)",
    )
    ap.add_argument(
        "--commit-interval-ms",
        type=float,
        metavar="MS",
        help="experiment: the server's commit_interval_ms setting (default: its own default)",
    )
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")

    tmp = Path(tempfile.mkdtemp(prefix="convtrack-pixel-"))
    try:
        load = f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency"
        print(f"pixel: {load} (after {args.warmup}s warm-up) against each server in turn")
        nginx = run_nginx(tmp, args)
        show("nginx", nginx)
        bare = run_bare_granian(tmp, args)
        show("granian*", bare)
        ct = run_convtrack(tmp, args)
        show("convtrack", ct)
        print("(* granian with a no-op ASGI app returning the GIF: the HTTP server's own ceiling)")
        warn_if_busy(max(r["other_cores"] - r["wrk_cores"] for r in (nginx, bare, ct)))
        ratio = ct["requests_per_s"] / nginx["requests_per_s"]
        print(
            f"\nratio convtrack / nginx = {ratio:.2f} req/s (goal >= 0.5: "
            f"{'met' if ratio >= 0.5 else 'NOT met'}); p99 {ct['p99_ms']:.2f} ms vs "
            f"{nginx['p99_ms']:.2f} ms"
        )
        print(
            f"ratio no-op granian ASGI / nginx = "
            f"{bare['requests_per_s'] / nginx['requests_per_s']:.2f}; convtrack / no-op "
            f"granian = {ct['requests_per_s'] / bare['requests_per_s']:.2f}"
        )
        print(
            f"convtrack group commit: {ct['commits']} commits, mean "
            f"{ct['mean_commit_events']:,.0f} events per commit"
        )
        print(
            f"stored pixel events {ct['stored']:,} for {ct['hits_counted_by_wrk']:,} hits "
            f"counted by wrk (warm-up + measured); dropped {ct['pixel_dropped'] or 0}; "
            f"quarantined {ct['quarantined']}: {'OK' if ct['verified'] else 'MISMATCH'}"
        )
        emit(
            {
                "bench": "pixel",
                "convtrack_rps": round(ct["requests_per_s"]),
                "nginx_rps": round(nginx["requests_per_s"]),
                "ratio": round(ratio, 3),
                "goal_ratio": 0.5,
                "verified": ct["verified"],
                "convtrack": {k: round(v, 3) if isinstance(v, float) else v for k, v in ct.items()},
                "nginx": {k: round(v, 3) if isinstance(v, float) else v for k, v in nginx.items()},
                "granian_noop_asgi": {
                    k: round(v, 3) if isinstance(v, float) else v for k, v in bare.items()
                },
                "ratio_granian_noop_vs_nginx": round(
                    bare["requests_per_s"] / nginx["requests_per_s"], 3
                ),
                "load": load,
                "server_switch_interval": args.switch_interval,
                "server_commit_interval_ms": args.commit_interval_ms,
                "env": environment(),
            }
        )
        return 0 if ct["verified"] else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
