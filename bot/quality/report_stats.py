"""`/escalate stats [7d|30d|90d]`: the key figures of the last days, ephemeral, for
the managers (the management level's members); anyone else is told who may."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.errors import NotAllowed
from bot.models import utcnow
from bot.policy import Policy
from bot.quality.metrics import key_figures
from bot.quality.report_render import figure, levels_in, share
from bot.rendering import escape_mrkdwn, render

DAYS = {"7d": 7, "30d": 30, "90d": 90}


class QualityStats:
    def __init__(self, policy: Policy, sessions: sessionmaker[Session]):
        self.policy, self.sessions = policy, sessions

    def authorize(self, user_id: str) -> None:
        if user_id not in self.policy.managers:
            managers = ", ".join(f"<@{m}>" for m in self.policy.managers) or "its members"
            raise NotAllowed(f"Only {escape_mrkdwn(self.policy.level_name('management'))} ({managers}) "
                             f"can see `/escalate stats`.")

    def reply(self, period: str) -> dict:
        end = utcnow()
        start = end - timedelta(days=DAYS[period])
        with self.sessions() as session:
            metrics = key_figures(session, self.policy, start, end, detail=False)
        tz = self.policy.timezone
        levels = [{"name": self.policy.level_name(level),
                   "arrived": metrics.arrived_by_level.get(level, 0),
                   "rate": share(metrics.escalation_rate(level).value)}
                  for level in levels_in(metrics)]  # the headline has no per-level times: the levels arrived at
        return render("replies/stats.json.j2", period=period, empty=metrics.empty,
                      since=start.astimezone(tz).strftime("%a %d %b %H:%M"),
                      figures=[(f.label, figure(f.value, f.unit)) for f in metrics.headline()], levels=levels,
                      business_time=metrics.business_time)
