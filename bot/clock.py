"""What time it is for the desk: the wall clock, unless a simulation says otherwise.

Every rule of the desk reads the time through `utcnow()` (bot.models re-exports it for
the columns' defaults), so `escalator policy test` and `escalator simulate` can run the
live desk's own code at the times a case or a recorded ticket gives. The simulated time
is a context variable: it holds only in the thread (and context) that set it, so a
simulation never changes the time a serving desk sees.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Iterator

_simulated: ContextVar["SimulatedClock | None"] = ContextVar("escalator_simulated_clock", default=None)


def utcnow() -> datetime:
    clock = _simulated.get()
    return clock.now if clock is not None else datetime.now(timezone.utc)


class SimulatedClock:
    """A clock that only moves when told to, and never backwards."""

    def __init__(self, start: datetime):
        self.now = _aware(start)

    def advance_to(self, when: datetime) -> None:
        when = _aware(when)
        if when < self.now:
            raise ValueError(f"the simulated clock can't go back from {self.now} to {when}")
        self.now = when

    def start_over(self, when: datetime) -> None:
        """A new run (the next case) from its own moment, earlier ones included."""
        self.now = _aware(when)


@contextmanager
def simulated(clock: SimulatedClock) -> Iterator[SimulatedClock]:
    token = _simulated.set(clock)
    try:
        yield clock
    finally:
        _simulated.reset(token)


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("the simulated clock takes aware datetimes")
    return when.astimezone(timezone.utc)
