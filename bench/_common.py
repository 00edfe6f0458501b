"""Shared plumbing for the benchmarks: a real ``convtrack serve``, /proc sampling, output.

Nothing here is timed itself. Processes are found through /proc (Linux only), which is what
the benchmarks need to add up the serve process and its granian worker child.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- /proc ----------------------------------------------------------------------------
def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """``pid`` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_kb(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        with suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    return total


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU time of the given processes (all their threads)."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / CLK_TCK


def all_process_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of every live process, with its name (to find who else was busy)."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        out[int(entry)] = (name, (int(fields[11]) + int(fields[12])) / CLK_TCK)
    return out


def busiest_others(
    before: dict[int, tuple[str, float]],
    after: dict[int, tuple[str, float]],
    exclude: set[int],
    seconds: float,
    top: int = 3,
) -> list[tuple[str, float]]:
    """The processes other than ``exclude`` that used the most CPU between two snapshots."""
    used = [
        (f"{name}[{pid}]", (cpu - before.get(pid, (name, 0.0))[1]) / seconds)
        for pid, (name, cpu) in after.items()
        if pid not in exclude
    ]
    return [(n, round(c, 3)) for n, c in sorted(used, key=lambda x: -x[1])[:top] if c > 0.01]


def machine_cpu() -> tuple[float, float]:
    """(non-idle, irq + softirq) CPU seconds of the whole machine (all cores), /proc/stat."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in parts[:8]]  # user nice system idle iowait irq softirq steal
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLK_TCK, (values[5] + values[6]) / CLK_TCK


@contextmanager
def prepared_objects() -> Iterator[None]:
    """Build large inputs without the cyclic GC, then freeze them out of later collections
    (so collecting garbage during a timed phase does not rescan the inputs)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()
        gc.freeze()


class PeakRss:
    """Samples the summed RSS of ``pids()`` every ``interval`` seconds in a thread."""

    def __init__(self, pids: Callable[[], list[int]], interval: float = 0.05) -> None:
        self._pids = pids
        self._interval = interval
        self._stop = threading.Event()
        self.peak_kb = 0
        self.samples = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pids = self._pids()
        refreshed = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - refreshed > 1.0:  # pick up late children
                pids, refreshed = self._pids(), time.monotonic()
            self.peak_kb = max(self.peak_kb, rss_kb(pids))
            self.samples += 1
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- the server under test --------------------------------------------------------------
class Server:
    """``convtrack serve`` as a subprocess on 127.0.0.1 with its own data directory."""

    def __init__(
        self,
        data_dir: Path,
        *,
        env: dict[str, str] | None = None,
        switch_interval: float | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"serve-{self.port}.log"
        self.public_key: str | None = None
        run_env = {**os.environ, "CONVTRACK_LOG_LEVEL": "warning", **(env or {})}
        self._log = self.log_path.open("w")
        # An experiment knob: the GIL switch interval of the server (inherited by the forked
        # granian worker). None runs the plain `python -m convtrack serve`.
        launcher = (
            ["-m", "convtrack"]
            if switch_interval is None
            else [
                "-c",
                f"import sys; sys.setswitchinterval({switch_interval}); "
                "from convtrack.cli import main; sys.exit(main())",
            ]
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                *launcher,
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(self.port),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=run_env,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"convtrack serve exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"convtrack serve not ready after {timeout}s; see {self.log_path}")
        match = re.search(r"write key: (ctk_pub_\S+)", self.log_path.read_text())
        self.public_key = match[1] if match else None

    def pids(self) -> list[int]:
        return descendants(self.proc.pid)

    def worker_pid(self) -> int | None:
        below = [p for p in self.pids() if p != self.proc.pid]
        return below[0] if below else None

    def cli(self, *args: str) -> str:
        """Run ``convtrack ARGS --data-dir DIR`` (talks to this server's admin API)."""
        out = subprocess.run(
            [sys.executable, "-m", "convtrack", *args, "--data-dir", str(self.data_dir)],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout

    def create_secret_key(self, name: str = "bench") -> str:
        return self.cli("keys", "create", "--name", name, "--secret").splitlines()[0].strip()

    def sql_scalar(self, query: str) -> Any:
        rows = json.loads(self.cli("sql", query, "--format", "json"))
        first = rows[0]
        return next(iter(first.values())) if isinstance(first, dict) else first[0]

    def admin(self, path: str) -> dict[str, Any]:
        token = (self.data_dir / "admin.token").read_text().strip()
        request = urllib.request.Request(
            self.url + path, headers={"authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as r:
            return dict(json.loads(r.read()))

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return int(self.proc.returncode)


# -- output ---------------------------------------------------------------------------
def environment() -> dict[str, Any]:
    import duckdb
    import granian
    import msgspec
    import pyarrow

    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "msgspec": msgspec.__version__,
        "granian": granian.__version__,
    }


def wait_for_quiet(max_wait: float, busy_limit: float = 0.15) -> float:
    """Wait (up to ``max_wait`` s) until the machine is idle: other work (a test suite, a
    build) on a 2-core machine halves what a benchmark can show. Returns the busy cores seen
    in the last 1-second window."""
    deadline = time.monotonic() + max_wait
    told = False
    while True:
        busy0 = machine_cpu()[0]
        time.sleep(1.0)
        busy = machine_cpu()[0] - busy0
        if busy <= busy_limit or time.monotonic() >= deadline:
            if told:
                print(f"  ... machine now at {busy:.2f} busy cores; going on", flush=True)
            return busy
        if not told:
            print(
                f"  (machine busy: {busy:.2f} cores in use by others; waiting up to "
                f"{max_wait:.0f}s for quiet)",
                flush=True,
            )
            told = True


def warn_if_busy(other_cores: float, limit: float = 0.2) -> None:
    if other_cores > limit:
        print(
            f"WARNING: other work used {other_cores:.2f} cores during the measurement; on "
            "2 cores that lowers every figure here. Re-run on a quiet machine."
        )


def emit(result: dict[str, Any]) -> None:
    """The machine-readable result: always the last line, one line of JSON."""
    sys.stdout.flush()
    print(json.dumps(result, separators=(",", ":"), sort_keys=False), flush=True)


def rate(n: float, seconds: float) -> float:
    return n / seconds if seconds > 0 else 0.0
