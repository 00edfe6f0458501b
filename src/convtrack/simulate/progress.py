"""A one-line progress report on stderr for long runs (no dependencies)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``advance(n)`` as work gets done; ``close()`` prints the final line.

    On a terminal the line is redrawn in place (at most ten times a second); otherwise one
    line is printed every ``every`` seconds, so logs stay short.
    """

    def __init__(
        self,
        label: str,
        total: int,
        *,
        stream: TextIO | None = None,
        enabled: bool = True,
        every: float = 5.0,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.every = 0.1 if self.tty else every
        self._started = self._last = time.monotonic()

    def line(self) -> str:
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        rate = self.done / max(time.monotonic() - self._started, 1e-9)
        return f"simulate: {self.label} {self.done:,}/{self.total:,}{pct}, {rate:,.0f}/s"

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self._last >= self.every:
            self._last = now
            self._write(self.line())

    def close(self) -> None:
        if self.enabled:
            self._write(self.line())
            if self.tty:
                self.stream.write("\n")
            self.stream.flush()

    def _write(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
