"""The words of `/escalate oncall …` (docs/coverage.md):

    /escalate oncall                                    who is on call, per level
    /escalate oncall LEVEL @person [until YYYY-MM-DD HH:MM]   a manager's override
    /escalate oncall LEVEL clear                        the override removed
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bot.calendar import resolve_wall_time
from bot.policy import Policy
from bot.rendering import escape_mrkdwn

# the manifest sets should_escape: Slack sends a picked person as <@U…|name>
_PERSON = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$|^([UW][A-Z0-9]{2,})$")
USAGE = ("`/escalate oncall` shows who is on call; managers: `/escalate oncall LEVEL @person "
         "[until YYYY-MM-DD HH:MM]` or `/escalate oncall LEVEL clear`.")


@dataclass(frozen=True)
class OncallRequest:
    action: str  # show | set | clear
    level: str | None = None
    person: str | None = None
    until: datetime | None = None  # UTC; None: until the next handoff


def parse_oncall(words: list[str], policy: Policy) -> tuple[OncallRequest | None, str | None]:
    """(request, None), or (None, what is wrong in mrkdwn)."""
    if not words:
        return OncallRequest("show"), None
    level = words[0].lower()
    if level not in policy.levels:
        levels = ", ".join(f"`{key}`" for key in policy.levels)
        return None, f"`{escape_mrkdwn(words[0][:40])}` is not a level ({levels}). {USAGE}"
    rest = words[1:]
    if [w.lower() for w in rest] == ["clear"]:
        return OncallRequest("clear", level), None
    if not rest or not (match := _PERSON.match(rest[0])):
        return None, f"Name the person with an @mention. {USAGE}"
    person = match.group(1) or match.group(2)
    if len(rest) == 1:
        return OncallRequest("set", level, person), None
    if len(rest) == 4 and rest[1].lower() == "until":
        try:
            local = datetime.strptime(f"{rest[2]} {rest[3]}", "%Y-%m-%d %H:%M")
        except ValueError:
            local = None
        if local is not None:
            # a time the clocks skip or repeat is read as business hours read theirs
            return OncallRequest("set", level, person,
                                 resolve_wall_time(local.date(), local.time(), policy.timezone)), None
    return None, f"Write the end as `until YYYY-MM-DD HH:MM` ({policy.timezone.key} time). {USAGE}"
