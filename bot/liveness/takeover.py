"""Taking over the outbox rows a dead process had claimed, at once rather than when
their lease ends.

Only the claim is released: the row keeps its attempt count, so whoever claims it next
first looks in Slack for the post the dead process may have made (bot.slack_send), and
nothing is posted twice. Rows of owners that are alive, or whose liveness can't be told
(no key in the id), keep their lease.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.liveness import Liveness
from bot.models import PENDING, OutboxMessage

log = logging.getLogger("escalator.liveness")


@dataclass
class TakeOver:
    owners: list[str] = field(default_factory=list)
    rows: Counter = field(default_factory=Counter)  # per Slack method

    def __bool__(self) -> bool:
        return bool(self.owners)


def take_over_dead_claims(session: Session, liveness: Liveness, now: datetime) -> TakeOver:
    """In the claim's transaction: release the leased rows whose owner is gone."""
    owners = session.scalars(
        select(OutboxMessage.claimed_by).distinct()
        .where(OutboxMessage.status == PENDING, OutboxMessage.lease_until >= now,
               OutboxMessage.claimed_by != liveness.worker_id)).all()
    taken = TakeOver(owners=[owner for owner in owners if owner and liveness.is_dead(session, owner)])
    if not taken:
        return taken
    released = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == PENDING, OutboxMessage.claimed_by.in_(taken.owners))
        .values(lease_until=None, claimed_by=None)
        .returning(OutboxMessage.method)
        .execution_options(synchronize_session=False)).scalars().all()
    taken.rows.update(released)
    for owner in taken.owners:
        liveness.forget(owner)
    log.warning("outbox: took over %d claimed rows (%s) of %d process(es) that are gone: %s",
                sum(taken.rows.values()), ", ".join(f"{n} {method}" for method, n in sorted(taken.rows.items())),
                len(taken.owners), ", ".join(taken.owners))
    return taken
