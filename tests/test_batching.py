"""Calls from several threads go in together: those that arrive while a batch runs form
the next one, each caller gets its own outcome, and a failed batch fails only its callers."""
from __future__ import annotations

import signal
import threading

import pytest

from bot.batching import BatchFailed, Batcher


class Recorder:
    """A run function that records its batches; the first batch waits until released."""

    def __init__(self, fail_on: int | None = None):
        self.batches: list[list[int]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, items):
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.first_started.set()
            assert self.release.wait(5)
        if self.fail_on in items:
            raise ValueError(f"item {self.fail_on} is bad")
        return [item * 10 for item in items]


def submit_in_threads(batcher: Batcher, items) -> dict:
    outcomes: dict = {}

    def submit(item):
        try:
            outcomes[item] = batcher.submit(item)
        except Exception as exc:
            outcomes[item] = exc

    threads = [threading.Thread(target=submit, args=(item,), daemon=True) for item in items]
    for thread in threads:
        thread.start()
    return {"threads": threads, "outcomes": outcomes}


def wait_queued(batcher: Batcher, count: int) -> None:
    for _ in range(500):
        if len(batcher._queue) >= count:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"{count} calls never queued")


def a_batch_running(fail_on: int | None = None, **options) -> tuple[Recorder, Batcher, dict]:
    """A batcher whose first batch, of call 1 alone, runs and is held until run.release."""
    run = Recorder(fail_on=fail_on)
    batcher = Batcher(run, **options)
    first = submit_in_threads(batcher, [1])
    assert run.first_started.wait(5)
    return run, batcher, first


def finish(started: dict) -> dict:
    for thread in started["threads"]:
        thread.join(5)
    return started["outcomes"]


def test_a_lone_call_runs_at_once_by_itself():
    batcher = Batcher(lambda items: [item * 10 for item in items])
    assert batcher.submit(4) == 40


def test_calls_arriving_while_a_batch_runs_go_together_in_the_next():
    run, batcher, first = a_batch_running()
    later = submit_in_threads(batcher, [2, 3, 4])
    wait_queued(batcher, 3)
    run.release.set()
    assert finish(first) == {1: 10}
    assert finish(later) == {2: 20, 3: 30, 4: 40}
    assert run.batches[0] == [1] and sorted(run.batches[1]) == [2, 3, 4] and len(run.batches) == 2


def test_a_batch_is_at_most_max_batch_calls():
    run, batcher, first = a_batch_running(max_batch=2)
    later = submit_in_threads(batcher, [2, 3, 4, 5, 6])
    wait_queued(batcher, 5)
    run.release.set()
    finish(first)
    assert finish(later) == {n: n * 10 for n in (2, 3, 4, 5, 6)}
    assert [len(batch) for batch in run.batches] == [1, 2, 2, 1]


def test_a_failed_batch_fails_its_callers_only_and_the_next_batch_still_runs():
    run, batcher, first = a_batch_running(fail_on=3, max_batch=3)
    later = submit_in_threads(batcher, [2, 3, 4])
    wait_queued(batcher, 3)
    run.release.set()
    finish(first)
    outcomes = finish(later)
    # the caller that ran the batch gets its error; the others a BatchFailed caused by it
    raised = [outcomes[n] if isinstance(outcomes[n], ValueError) else outcomes[n].__cause__ for n in (2, 3, 4)]
    assert all(isinstance(error, ValueError) for error in raised)
    assert sum(isinstance(outcomes[n], BatchFailed) for n in (2, 3, 4)) == 2
    assert batcher.submit(5) == 50  # the batcher is not stuck
    with pytest.raises(ValueError, match="item 3 is bad"):
        batcher.submit(3)


class Interrupted(Exception):
    pass


def submit_interrupted(batcher: Batcher, item, handler) -> None:
    """submit(item) on this (main) thread; once the call waits in the queue, SIGUSR1 is
    sent to this thread: `handler` runs here, in the waiting submit, and raises
    Interrupted, as Ctrl-C would. If the call never waits, no signal is sent and the
    test fails on the missing Interrupted."""
    assert threading.current_thread() is threading.main_thread()
    main = threading.main_thread().ident

    def send_when_waiting():
        for _ in range(500):
            if any(call.item == item for call in list(batcher._queue)):
                signal.pthread_kill(main, signal.SIGUSR1)
                return
            threading.Event().wait(0.01)

    previous = signal.signal(signal.SIGUSR1, handler)
    sender = threading.Thread(target=send_when_waiting, daemon=True)
    try:
        sender.start()
        with pytest.raises(Interrupted):
            batcher.submit(item)
    finally:
        sender.join(10)  # no signal may arrive after the handler is put back
        signal.signal(signal.SIGUSR1, previous)


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
def test_a_caller_interrupted_while_it_waits_leaves_the_queue_and_its_call_never_runs():
    run, batcher, first = a_batch_running()

    def interrupt(_signum, _frame):
        raise Interrupted

    submit_interrupted(batcher, 2, interrupt)  # waits behind the running batch
    later = submit_in_threads(batcher, [3])
    wait_queued(batcher, 1)
    run.release.set()
    assert finish(first) == {1: 10}
    assert finish(later) == {3: 30}
    assert [sorted(batch) for batch in run.batches] == [[1], [3]]


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
def test_a_caller_interrupted_just_as_its_turn_to_lead_came_passes_the_lead_on():
    run, batcher, first = a_batch_running()
    behind = []

    def interrupt(_signum, _frame):
        # let the running batch end and hand the lead to this thread's call, then fail
        behind.append(submit_in_threads(batcher, [3]))
        wait_queued(batcher, 2)
        run.release.set()
        for _ in range(500):
            if batcher._queue and batcher._queue[0].item == 2 and batcher._queue[0].wake.is_set():
                raise Interrupted
            threading.Event().wait(0.01)
        raise AssertionError("the lead never came to the waiting call")

    submit_interrupted(batcher, 2, interrupt)
    assert finish(first) == {1: 10}
    assert finish(behind[0]) == {3: 30}  # without the lead passed on, it would wait for ever
    assert [sorted(batch) for batch in run.batches] == [[1], [3]]
    assert batcher.submit(4) == 40
