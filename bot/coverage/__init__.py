"""Coverage (docs/coverage.md): levels staffed from Slack user groups (rosters), on-call
rotations and overrides (oncall, rotation), pages outside business hours (paging),
and overflow past a level's capacity (overflow)."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot import messages
from bot.coverage.commands import OncallRequest
from bot.coverage.oncall import OnCallBook
from bot.coverage.overflow import OverflowRouter
from bot.coverage.paging import OffHoursPager
from bot.coverage.rosters import RosterCache, RosterSync
from bot.desk import EscalationDesk
from bot.models import utcnow
from bot.policy import Policy
from bot.rendering import Mrkdwn, escape_mrkdwn

__all__ = ["Coverage", "RosterCache"]


class Coverage:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy, client: WebClient, desk: EscalationDesk):
        self.rosters = RosterSync(policy, sessions, client, policy.rosters or RosterCache(sessions))
        self.oncall = OnCallBook(sessions, policy)
        self.pager = OffHoursPager(policy, self.oncall, desk.slack)
        self.overflow = OverflowRouter(policy, desk.capacity, desk.slack)
        desk.route_arrival, desk.record_route = self.overflow.route, self.overflow.record
        desk.on_arrival.append(self.overflow.assign_from_pool)  # after round robin (bot.assignment)
        desk.on_arrival.append(self.pager.on_arrival)
        desk.on_alert.append(self.pager.alert_mentions)
        self._clock: Callable[[], datetime] = utcnow

    def answer_oncall(self, request: OncallRequest, user_id: str) -> dict:
        """The ephemeral answer to `/escalate oncall …` (errors go up as EscalatorError)."""
        if request.action == "show":
            return self.oncall.overview()
        level_name = escape_mrkdwn(self.oncall.policy.level_name(request.level))
        if request.action == "clear":
            self.oncall.clear(request.level, user_id)
            now = self.oncall.person_now(request.level)
            who = f"<@{now}> is on call again" if now else "no one is on call now"
            return messages.notice(Mrkdwn(f"Override for {level_name} cleared: {who}."))
        current = self.oncall.override(request.level, request.person, user_id, request.until)
        return messages.notice(Mrkdwn(f"<@{request.person}> is on call for {level_name} until "
                                      f"{messages.local_time(current.until, self.oncall.policy)}; "
                                      f"I've noted it in the level's channel."))

    @property
    def clock(self) -> Callable[[], datetime]:
        """What "now" is for on-call and business-hours decisions (tests move it)."""
        return self._clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        self._clock = self.oncall.clock = self.pager.clock = clock
