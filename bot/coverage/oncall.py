"""On call per level: the rotation's turn, managers' overrides, and the note in the
level's channel when the person on call changes (a handoff, an override set,
cleared or ended), once per change.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import outbox
from bot.coverage.rotation import Turn, turn_at
from bot.db import locked_row, transaction
from bot.errors import InvalidCommand, NotAllowed
from bot.messages import local_time
from bot.models import OncallOverride, OncallShift, utcnow
from bot.policy import Policy
from bot.rendering import escape_mrkdwn, render


@dataclass(frozen=True)
class OnCallNow:
    level: str
    person: str | None
    turn: Turn | None  # None: the level has no rotation
    override: OncallOverride | None

    @property
    def shift(self) -> str:
        """What identifies this stretch of on call, for noting its change once."""
        if self.override is not None:
            return f"override:{self.override.id}"
        return f"rotation:{self.turn.number}" if self.turn else "none"

    @property
    def until(self) -> datetime | None:
        if self.override is not None:
            return self.override.ends_at
        return self.turn.ends if self.turn else None


class OnCallBook:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy, clock: Callable[[], datetime] = utcnow):
        self.sessions = sessions
        self.policy = policy
        self.clock = clock

    # --- reading ------------------------------------------------------------
    def now(self, session: Session, level_key: str, at: datetime) -> OnCallNow:
        level = self.policy.level(level_key)
        turn = None
        if level.oncall is not None:
            turn = turn_at(level.oncall, self.policy.expand(level.oncall.rotation), at, self.policy.timezone)
        override = session.scalars(
            select(OncallOverride).where(OncallOverride.level == level_key, OncallOverride.cleared_at.is_(None),
                                         OncallOverride.starts_at <= at, OncallOverride.ends_at > at)
            .order_by(OncallOverride.id.desc())).first()
        person = override.user_id if override is not None else (turn.person if turn else None)
        return OnCallNow(level_key, person, turn, override)

    def person(self, session: Session, level_key: str, at: datetime) -> str | None:
        return self.now(session, level_key, at).person

    def person_now(self, level_key: str) -> str | None:
        with self.sessions() as session:
            return self.person(session, level_key, self.clock())

    def covered_levels(self, session: Session) -> list[str]:
        """Levels with a rotation, an override or a noted shift: those whose on call can change."""
        named = {key for key, level in self.policy.levels.items() if level.oncall is not None}
        named |= set(session.scalars(select(OncallOverride.level).where(OncallOverride.cleared_at.is_(None))))
        named |= set(session.scalars(select(OncallShift.level)))
        return [key for key in self.policy.levels if key in named]

    def overview(self) -> dict:
        """`/escalate oncall`: each level's person now, any override, the next handoff."""
        at = self.clock()
        rows = []
        with self.sessions() as session:
            for key in self.policy.levels:
                current = self.now(session, key, at)
                rows.append({
                    "level_name": self.policy.level_name(key), "key": key, "person": current.person,
                    "rotation": current.turn is not None,
                    "override": current.override,
                    "override_until": local_time(current.override.ends_at, self.policy) if current.override else None,
                    "next_handoff": local_time(current.turn.ends, self.policy) if current.turn else None,
                })
        return render("replies/oncall.json.j2", rows=rows)

    # --- managers' overrides --------------------------------------------------
    def override(self, level_key: str, user_id: str, actor_id: str, until: datetime | None = None) -> OnCallNow:
        self._require_manager(actor_id)
        at = self.clock()
        with transaction(self.sessions) as session:
            current = self.now(session, level_key, at)
            ends = until or (current.turn.ends if current.turn else None)
            if ends is None:
                raise InvalidCommand(f"{escape_mrkdwn(self.policy.level_name(level_key))} has no rotation, so "
                                     "say until when: `until YYYY-MM-DD HH:MM`.")
            if ends <= at:
                raise InvalidCommand(f"`until` must be later than now ({local_time(at, self.policy)}).")
            session.add(OncallOverride(level=level_key, user_id=user_id, starts_at=at, ends_at=ends,
                                       set_by=actor_id, created_at=at))
            session.flush()
            self.note_change(session, level_key, at, actor_id)
            return self.now(session, level_key, at)

    def clear(self, level_key: str, actor_id: str) -> int:
        self._require_manager(actor_id)
        at = self.clock()
        with transaction(self.sessions) as session:
            active = session.scalars(select(OncallOverride).where(
                OncallOverride.level == level_key, OncallOverride.cleared_at.is_(None),
                OncallOverride.ends_at > at).with_for_update()).all()
            if not active:
                raise InvalidCommand(f"{escape_mrkdwn(self.policy.level_name(level_key))} has no override to clear.")
            for override in active:
                override.cleared_at, override.cleared_by = at, actor_id
            session.flush()
            self.note_change(session, level_key, at, actor_id)
            return len(active)

    def _require_manager(self, actor_id: str) -> None:
        if not self.policy.is_member("management", actor_id):
            managers = ", ".join(f"<@{m}>" for m in self.policy.managers) or "management"
            raise NotAllowed(f"Only managers ({managers}) can change who is on call.")

    # --- noting changes ---------------------------------------------------------
    def note_changes(self, at: datetime | None = None) -> list[str]:
        """Note every level whose on-call person changed since the last note; returns them."""
        at = at or self.clock()
        with self.sessions() as session:
            levels = self.covered_levels(session)
        noted = []
        for key in levels:
            with transaction(self.sessions) as session:
                if self.note_change(session, key, at):
                    noted.append(key)
        return noted

    def note_change(self, session: Session, level_key: str, at: datetime, actor_id: str | None = None) -> bool:
        """Post "X is on call now" in the level's channel if the shift differs from the
        last one noted (the level's row is locked: one note per change, any process)."""
        current = self.now(session, level_key, at)
        noted = _locked_shift(session, level_key)
        if noted.shift == current.shift:
            return False
        previous = noted.user_id
        noted.shift, noted.user_id, noted.changed_at = current.shift, current.person, at
        payload = render("oncall_change.json.j2", level_name=self.policy.level_name(level_key),
                         person=current.person, until=local_time(current.until, self.policy) if current.until else None,
                         override=current.override is not None, actor=actor_id, previous=previous)
        outbox.post(session, channel=self.policy.level(level_key).channel, payload=payload, role="oncall",
                    level=level_key)
        return True


def _locked_shift(session: Session, level_key: str) -> OncallShift:
    """The level's noted shift, locked for this transaction; a blank one on first use."""
    return locked_row(session, OncallShift, level_key, level=level_key, shift="", user_id=None, changed_at=utcnow())
