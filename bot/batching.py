"""Calls from many threads that go in together.

The first caller runs a batch of every call queued at that moment; calls that arrive
meanwhile wait and go in the next batch, which the first of them runs once the batch
before it is done. Under load a batch costs one transaction and one statement per kind
of row for all of its calls; a lone call runs at once, alone.
"""
from __future__ import annotations

import threading
from typing import Callable, Generic, Sequence, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


class BatchFailed(Exception):
    """The batch a call was in raised (the cause); the caller that ran it gets that error itself."""


class _Call(Generic[Item, Outcome]):
    __slots__ = ("item", "outcome", "error", "finished", "wake")

    def __init__(self, item: Item):
        self.item = item
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None
        self.finished = False
        self.wake = threading.Event()  # set when finished, or when it is this call's turn to lead


class Batcher(Generic[Item, Outcome]):
    def __init__(self, run: Callable[[Sequence[Item]], Sequence[Outcome]], max_batch: int = 32):
        """run: one outcome per item, in order; if it raises, every call of the batch does."""
        self._run = run
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Call[Item, Outcome]] = []
        self._leading = False  # a batch is being run

    def submit(self, item: Item) -> Outcome:
        call: _Call[Item, Outcome] = _Call(item)
        with self._lock:
            self._queue.append(call)
            if not self._leading:  # no batch runs: this call leads one at once
                self._leading = True
                call.wake.set()
        try:
            call.wake.wait()
            if not call.finished:  # this call leads: it is first in the queue
                self._run_batch()  # raises what the batch raised
        except BaseException:
            self._abandon(call)  # interrupted before its batch took it: leave, pass on the lead
            raise
        if call.error is not None:
            raise BatchFailed("a batch of calls failed") from call.error
        return call.outcome  # type: ignore[return-value]

    def _abandon(self, call: _Call[Item, Outcome]) -> None:
        """A caller interrupted before its call was taken into a batch: the call leaves the
        queue, passing on the lead if it had it, so the calls behind it aren't left waiting
        for ever. (Once taken, the batch's leader finishes it and passes the lead.)"""
        with self._lock:
            if call not in self._queue:
                return  # taken in a batch already: that batch's leader finishes it
            was_leading = self._queue[0] is call and call.wake.is_set()
            self._queue.remove(call)
            if was_leading:
                if self._queue:
                    self._queue[0].wake.set()
                else:
                    self._leading = False

    def _run_batch(self) -> None:
        with self._lock:
            batch, self._queue = self._queue[:self._max_batch], self._queue[self._max_batch:]
        try:
            outcomes = self._run([call.item for call in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} gave {len(outcomes)} outcomes")
            for call, outcome in zip(batch, outcomes):
                call.outcome = outcome
        except BaseException as exc:
            for call in batch:
                call.error = exc
            raise
        finally:
            for call in batch:
                call.finished = True
            with self._lock:
                if self._queue:
                    self._queue[0].wake.set()  # the next batch's leader
                else:
                    self._leading = False
            for call in batch:
                call.wake.set()
