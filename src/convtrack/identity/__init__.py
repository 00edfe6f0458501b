"""Identity (stage "stitch"): which identifiers belong to the same person.

A pure, storage-independent core. ``IdentityGraph`` is a union-find over identifiers —
``(kind, value)`` pairs such as ``("anonymous_id", "a1")`` or ``("user_id", "42")`` — fed one
event at a time with ``observe``. An event links all of its identifiers into one person, so a
login on a phone and on a laptop makes the two browsers one person. ``StitchPolicy`` says which
kinds may merge people and caps how big a person may grow; a merge over a cap is refused and
recorded, never done silently. Person ids are stable: the oldest person survives a merge, and
replaying the same events in the same order gives the same ids. ``to_rows``/``from_rows`` turn
the state into plain tuples for a store, and ``people_table`` is the
``(anonymous_id, person_id)`` table that attribution's ``StitchedPeople`` joins.
"""

from convtrack.identity.graph import GraphRows, IdentityGraph, people_table
from convtrack.identity.records import (
    KINDS,
    Identifier,
    Merge,
    Observation,
    Refusal,
    StitchPolicy,
)

__all__ = [
    "KINDS",
    "GraphRows",
    "Identifier",
    "IdentityGraph",
    "Merge",
    "Observation",
    "Refusal",
    "StitchPolicy",
    "people_table",
]
