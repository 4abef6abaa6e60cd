"""The daily digest: checked every minute, sent once a day per level (see bot/sla/digest.py)."""
from __future__ import annotations

import logging

from bot.runtime import Runtime

log = logging.getLogger("escalator.schedules")


def schedule(scheduler, runtime: Runtime) -> None:
    scheduler.add_job(send_digests, "interval", minutes=1, args=[runtime], id="daily_digest",
                      misfire_grace_time=None, coalesce=True)


def send_digests(runtime: Runtime) -> None:
    sent = runtime.digest.send_due()
    if sent:
        log.info("daily digest sent to %s", ", ".join(sent))
