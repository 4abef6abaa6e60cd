"""The SLA sweep every `sweep_interval`; it works from stored deadlines, so a late or
skipped run loses nothing."""
from __future__ import annotations

import logging

from bot.models import utcnow
from bot.runtime import Runtime

log = logging.getLogger("escalator.schedules")


def schedule(scheduler, runtime: Runtime) -> None:
    scheduler.add_job(sweep_sla, "interval", seconds=runtime.policy.sweep_interval.total_seconds(),
                      args=[runtime], id="sla_sweep", misfire_grace_time=None, coalesce=True,
                      next_run_time=utcnow())  # catch up at once after a restart


def sweep_sla(runtime: Runtime) -> None:
    with runtime.metrics.timed_sweep():
        result = runtime.sla.run()
    if result.clocks or result.deescalations:
        log.info("SLA sweep: %d clocks, %d warnings, %d breaches, %d escalations, %d reminders, "
                 "%d automatic de-escalations", result.clocks, result.warnings, result.breaches,
                 result.escalations, result.reminders, result.deescalations)
