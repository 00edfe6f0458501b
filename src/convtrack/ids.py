"""Random UUIDv4 strings without a system call per id.

``uuid.uuid4()`` reads ``os.urandom`` each time; on the collector's hot path that system call
releases the GIL and then waits to get it back from the writer thread. Here the 122 random
bits come from a generator seeded from ``os.urandom`` once per process (and again in a forked
child). Event ids need uniqueness, not secrecy: nothing secret is derived from them.
"""

from __future__ import annotations

import os
import random

_VERSION_MASK = ~((0xF << 76) | (0xC << 60))
_VERSION_BITS = (0x4 << 76) | (0x8 << 60)  # version 4, RFC 4122 variant


class UuidSource:
    def __init__(self) -> None:
        self._rng = random.Random(os.urandom(32))

    def reseed(self) -> None:
        self._rng.seed(os.urandom(32))

    def __call__(self) -> str:
        h = f"{(self._rng.getrandbits(128) & _VERSION_MASK) | _VERSION_BITS:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


new_event_id = UuidSource()
os.register_at_fork(after_in_child=new_event_id.reseed)
