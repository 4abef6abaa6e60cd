"""The desk's clock seam (bot/clock.py): a simulation sets the time for its own thread only."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from bot import models
from bot.clock import SimulatedClock, simulated, utcnow

MOMENT = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


def test_inside_a_simulation_the_desk_reads_the_simulated_time_and_the_wall_clock_after():
    clock = SimulatedClock(MOMENT)
    with simulated(clock):
        assert models.utcnow() == MOMENT  # what the desk's rules and the columns' defaults read
        clock.advance_to(MOMENT + timedelta(hours=3))
        assert utcnow() == MOMENT + timedelta(hours=3)
    assert abs(utcnow() - datetime.now(timezone.utc)) < timedelta(seconds=5)


def test_a_simulation_in_one_thread_leaves_the_time_of_another_alone():
    seen = {}
    inside, done = threading.Event(), threading.Event()

    def serving_thread():
        inside.wait(5)
        seen["server"] = utcnow()
        done.set()

    thread = threading.Thread(target=serving_thread)
    thread.start()
    with simulated(SimulatedClock(MOMENT)):
        inside.set()
        done.wait(5)
        assert utcnow() == MOMENT
    thread.join()
    assert seen["server"].year >= 2024 and seen["server"] != MOMENT
    assert abs(seen["server"] - datetime.now(timezone.utc)) < timedelta(seconds=5)


def test_the_simulated_clock_never_goes_back_and_wants_aware_times():
    clock = SimulatedClock(MOMENT)
    with pytest.raises(ValueError):
        clock.advance_to(MOMENT - timedelta(seconds=1))
    with pytest.raises(ValueError):
        clock.advance_to(datetime(2026, 12, 8))
    clock.start_over(MOMENT - timedelta(days=1))  # the next case, from its own moment
    assert clock.now == MOMENT - timedelta(days=1)
