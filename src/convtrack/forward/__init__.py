"""Forward conversions server-side to ad platforms and analytics tools.

A destination knows one platform: how to turn :class:`ForwardEvent` values into HTTP requests
(:meth:`Destination.build`) and what a response means (:meth:`Destination.classify`). Built-in
destinations register themselves with the same :func:`register` decorator a plug-in would use.
"""

from convtrack.forward.destination import (
    Destination,
    DestinationConfig,
    HttpRequest,
    Outcome,
    UnsendableEvents,
    get,
    register,
    registry,
)
from convtrack.forward.model import ForwardEvent

__all__ = [
    "Destination",
    "DestinationConfig",
    "ForwardEvent",
    "HttpRequest",
    "Outcome",
    "UnsendableEvents",
    "get",
    "register",
    "registry",
]
