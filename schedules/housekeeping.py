"""Forget Slack event ids once Slack can no longer retry them."""
from __future__ import annotations

import logging

from bot.runtime import Runtime

log = logging.getLogger("escalator.schedules")


def schedule(scheduler, runtime: Runtime) -> None:
    scheduler.add_job(prune_event_ledger, "interval", hours=1, args=[runtime], id="prune_event_ledger")


def prune_event_ledger(runtime: Runtime) -> None:
    removed = runtime.events.prune()
    if removed:
        log.info("forgot %d handled Slack event ids", removed)
