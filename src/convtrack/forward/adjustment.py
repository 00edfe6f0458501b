"""How an adjustment job is told apart from a conversion job in the outbox.

An outbox job names its destination, the plan's conversion and the platform event (migration
0011). A refund, cancellation or restatement of a conversion is a job of the adjusting event
(``order_refunded``, …) whose platform event is ``<type>:<platform event of the conversion>``,
e.g. ``refund:purchase`` or ``restatement:987654321``: readable in ``convtrack outbox list``,
and the plan's lint refuses platform event names of that form, so none is ever misread.
"""

from __future__ import annotations

from typing import cast

from convtrack.forward.model import ADJUSTMENT_TYPES, AdjustmentType


def encode(adjustment_type: str, platform_event: str) -> str:
    """The job's platform event for an adjustment of a conversion named ``platform_event``."""
    if adjustment_type not in ADJUSTMENT_TYPES:
        raise ValueError(f"unknown adjustment type {adjustment_type!r}")
    return f"{adjustment_type}:{platform_event}"


def decode(job_platform_event: str) -> tuple[AdjustmentType | None, str]:
    """``(adjustment type, platform event)``; the type is None for a conversion job."""
    head, sep, rest = job_platform_event.partition(":")
    if sep and head in ADJUSTMENT_TYPES:
        return cast(AdjustmentType, head), rest
    return None, job_platform_event
