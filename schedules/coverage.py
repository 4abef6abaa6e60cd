"""Coverage jobs: user group rosters read from Slack every 10 minutes (and at start),
and a check every minute that notes a change of on-call person in the level's channel."""
from __future__ import annotations

import logging

from bot.coverage.rosters import REFRESH_EVERY
from bot.models import utcnow
from bot.runtime import Runtime

log = logging.getLogger("escalator.schedules")


def schedule(scheduler, runtime: Runtime) -> None:
    if runtime.coverage.rosters.groups:
        scheduler.add_job(refresh_rosters, "interval", seconds=REFRESH_EVERY.total_seconds(), args=[runtime],
                          id="refresh_rosters", misfire_grace_time=None, coalesce=True, next_run_time=utcnow())
    scheduler.add_job(note_oncall_changes, "interval", minutes=1, args=[runtime], id="oncall_changes",
                      misfire_grace_time=None, coalesce=True, next_run_time=utcnow())


def refresh_rosters(runtime: Runtime) -> None:
    answered = runtime.coverage.rosters.refresh_all()
    if answered and all(answered.values()):
        log.info("user groups read from Slack: %s", ", ".join(answered))


def note_oncall_changes(runtime: Runtime) -> None:
    noted = runtime.coverage.oncall.note_changes()
    if noted:
        log.info("on-call change noted for %s", ", ".join(noted))
