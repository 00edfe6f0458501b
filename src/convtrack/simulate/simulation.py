"""Run the story for N visitors: journeys and every delivery, in arrival order.

One ``random.Random(seed)`` hands each person their own generator (64 bits drawn in person
order), so the same seed gives byte-identical output, and the first N people of a larger run
are the same people as in a run of N.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from convtrack.simulate.hits import Delivery, journey_deliveries
from convtrack.simulate.journeys import Journey, make_journey
from convtrack.simulate.model import World, default_world


@dataclass(frozen=True)
class Params:
    seed: int
    visitors: int
    start: datetime  # timezone-aware UTC
    end: datetime


@dataclass
class Simulation:
    params: Params
    world: World
    journeys: list[Journey] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)  # arrival order, blocked included

    def sent(self) -> list[Delivery]:
        """What reaches the collector: every delivery a blocker did not stop."""
        return [d for d in self.deliveries if not d.blocked]


def simulate(
    params: Params,
    world: World | None = None,
    on_person: Callable[[int], None] | None = None,
) -> Simulation:
    world = world or default_world()
    sim = Simulation(params, world)
    master = random.Random(params.seed)
    for number in range(1, params.visitors + 1):
        rng = random.Random(master.getrandbits(64))
        journey = make_journey(rng, world, number, params.start, params.end)
        sim.journeys.append(journey)
        sim.deliveries.extend(journey_deliveries(rng, world, journey))
        if on_person is not None:
            on_person(1)
    sim.deliveries.sort(key=lambda d: (d.arrival, d.source, d.event.event_id or ""))
    return sim
