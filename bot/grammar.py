"""The `/escalate` command grammar (design.md §3)."""
from __future__ import annotations

from dataclasses import dataclass

from bot.coverage.commands import OncallRequest, parse_oncall
from bot.desk import parse_key
from bot.policy import Policy
from bot.rendering import Mrkdwn, escape_mrkdwn


STATS_PERIODS = ("7d", "30d", "90d")
STATS_DEFAULT = "30d"


@dataclass(frozen=True)
class Command:
    kind: str  # new | escalate | status | why | list | stats | oncall | help | usage
    key: str | None = None
    scope: str = ""
    problem: Mrkdwn | None = None
    oncall: OncallRequest | None = None


def parse_command(text: str, policy: Policy) -> Command:
    words = (text or "").split()
    if not words:
        return Command("new")
    head, rest = words[0].lower(), words[1:]
    if len(words) == 1 and parse_key(words[0]) is not None:
        return Command("escalate", key=words[0].upper())
    if head == "help" and not rest:
        return Command("help")
    if head in ("status", "why"):
        if len(rest) == 1 and parse_key(rest[0]) is not None:
            return Command(head, key=rest[0].upper())
        return _usage(f"`/escalate {head}` takes a ticket key, e.g. `/escalate {head} ESC-12`.")
    if head == "list":
        if not rest:
            return Command("list")
        scope = rest[0].lower()
        if len(rest) == 1 and (scope == "mine" or scope in policy.levels):
            return Command("list", scope=scope)
        levels = ", ".join(f"`{key}`" for key in policy.levels)
        return _usage(f"`/escalate list` takes `mine` or a level: {levels}.")
    if head == "stats":
        if not rest:
            return Command("stats", scope=STATS_DEFAULT)
        if len(rest) == 1 and rest[0].lower() in STATS_PERIODS:
            return Command("stats", scope=rest[0].lower())
        return _usage(f"`/escalate stats` takes {', '.join(f'`{p}`' for p in STATS_PERIODS)} "
                      f"(default `{STATS_DEFAULT}`).")
    if head == "oncall":
        request, problem = parse_oncall(rest, policy)
        return Command("oncall", oncall=request) if request else _usage(problem)
    shown = escape_mrkdwn(" ".join(words))[:200]
    return _usage(f"I don't know `{shown}`.")


def _usage(problem: str) -> Command:
    return Command("usage", problem=Mrkdwn(problem))
