"""SLA clocks explained in words: every running, paused, off-hours and holiday
stretch with its cause, and the next deadline ("breaches Tue 14:05 Berlin: …")."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.calendar import calendar_for
from bot.durations import format_duration
from bot.models import ClockKind, SlaClock, Ticket
from bot.policy import Policy
from bot.sla.deadlines import Pause, elapsed

CLOCK_NAMES = {ClockKind.RESPONSE: "response", ClockKind.TIME_LIMIT: "time limit", ClockKind.UPDATE: "progress update"}


@dataclass(frozen=True)
class ClockStory:
    title: str  # "Response at Tier 1"
    headline: str  # "breaches Tue 14:05 Berlin"
    used: str  # "2h 10m of 4h"
    stretches: list[str]  # "opened Mon 16:00", "off-hours Mon 17:00–Tue 09:00", …

    def sentence(self) -> str:
        return f"{self.headline}: " + ", ".join(self.stretches)


class ClockExplainer:
    def __init__(self, policy: Policy):
        self.policy = policy
        self.city = policy.timezone.key.split("/")[-1].replace("_", " ")

    def when(self, moment: datetime, now: datetime | None = None) -> str:
        local = moment.astimezone(self.policy.timezone)
        far = now is not None and abs((moment - now).total_seconds()) > 6 * 86400
        return local.strftime("%a %d %b %H:%M" if far else "%a %H:%M") + f" {self.city}"

    def span(self, start: datetime, end: datetime) -> str:
        first, last = start.astimezone(self.policy.timezone), end.astimezone(self.policy.timezone)
        tail = last.strftime("%H:%M") if first.date() == last.date() else last.strftime("%a %H:%M")
        return f"{first.strftime('%a %H:%M')}–{tail}"

    def story(self, ticket: Ticket, clock: SlaClock, pauses: list[Pause], now: datetime) -> ClockStory:
        calendar = calendar_for(self.policy, clock.level)
        level_name = self.policy.level_name(clock.level)
        target = timedelta(seconds=clock.target_seconds)
        end = clock.stopped_at or (clock.due_at if clock.due_at and clock.due_at > now else now)
        stretches: list[tuple[datetime, str]] = [(clock.started_at, f"{self._start_cause(ticket, clock)} "
                                                                    f"{self.when(clock.started_at, now)}")]
        if not calendar.always_open:
            for segment in calendar.segments(clock.started_at, end):
                if not segment.open:
                    stretches.append((segment.start, f"{segment.cause} {self.span(segment.start, segment.end)}"))
        for pause in pauses:
            if pause.start < end and (pause.end is None or pause.end > clock.started_at):
                label = f"paused {self.span(max(pause.start, clock.started_at), pause.end)}" if pause.end \
                    else f"paused since {self.when(pause.start, now)}"
                why = f" waiting on customer ({pause.reason})" if pause.reason else " waiting on customer"
                stretches.append((pause.start, label + why))
        used = elapsed(calendar, clock.started_at, min(end, now), pauses)
        return ClockStory(
            title=f"{CLOCK_NAMES[clock.kind].capitalize()} at {level_name}",
            headline=self._headline(ticket, clock, now),
            used=f"{format_duration(max(used, timedelta(0)))} of {format_duration(target)}",
            stretches=[text for _, text in sorted(stretches, key=lambda item: item[0])],
        )

    def _start_cause(self, ticket: Ticket, clock: SlaClock) -> str:
        if clock.kind == ClockKind.UPDATE:
            return "last update"
        if clock.cycle == 1:
            return "opened"
        return f"reached {self.policy.level_name(clock.level)}"

    def _headline(self, ticket: Ticket, clock: SlaClock, now: datetime) -> str:
        if clock.stopped_at is not None:
            return f"stopped {self.when(clock.stopped_at, now)} ({clock.stop_reason})"
        if clock.due_at is None:
            return "paused"
        if clock.kind == ClockKind.UPDATE:
            return f"next update due {self.when(clock.due_at, now)}"
        verb = "breached" if clock.due_at <= now else "breaches"
        if clock.kind == ClockKind.TIME_LIMIT:
            target = self.policy.next_level(clock.level)
            verb = "escalated" if clock.due_at <= now else f"escalates to {self.policy.level_name(target or '')}"
        return f"{verb} {self.when(clock.due_at, now)}"
