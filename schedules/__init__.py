"""APScheduler jobs, each a thin call into a bot/ service."""
from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler

from bot.runtime import Runtime
from schedules import coverage, digest, housekeeping, review, sla


def start_scheduler(runtime: Runtime) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    housekeeping.schedule(scheduler, runtime)
    sla.schedule(scheduler, runtime)
    digest.schedule(scheduler, runtime)
    review.schedule(scheduler, runtime)
    coverage.schedule(scheduler, runtime)
    scheduler.start()
    return scheduler
