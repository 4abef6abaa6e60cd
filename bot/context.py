"""Typed context carried through Slack in button values and private_metadata."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ActionContext:
    ticket_id: int | None = None
    level: str | None = None  # the level whose briefing carried the button
    channel: str | None = None  # where the person started (for ephemeral answers)
    permalink: str | None = None  # the message a shortcut started from
    event_id: int | None = None  # the ticket event a button acts on (Undo)
    cycle: int | None = None  # the ticket's stay at a level when a modal opened (stale after a move)
    page: int | None = None  # a page of /escalate list
    scope: str | None = None  # what /escalate list lists (mine, a level key, or everything)
    resolution: int | None = None  # which resolution of the ticket a satisfaction button rates

    @classmethod
    def modal_on(cls, ticket, channel: str | None) -> ActionContext:
        """For a modal about `ticket`: its stay at its level, and where the person started."""
        return cls(ticket_id=ticket.id, level=ticket.level, cycle=ticket.cycle, channel=channel)

    def encode(self) -> str:
        short = {"t": self.ticket_id, "l": self.level, "c": self.channel, "p": self.permalink, "e": self.event_id,
                 "n": self.cycle, "g": self.page, "s": self.scope, "r": self.resolution}
        return json.dumps({k: v for k, v in short.items() if v is not None}, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | None) -> ActionContext:
        """Anything we can't read (an old or foreign value) decodes to an empty context."""
        return cls.read(text) or cls()

    @classmethod
    def read(cls, text: str | None) -> ActionContext | None:
        """None when `text` is there but isn't a context we wrote (not a JSON object);
        no text at all is an empty context. Fields of the wrong type are left out."""
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        return cls(
            ticket_id=_int_or_none(data.get("t")),
            event_id=_int_or_none(data.get("e")),
            cycle=_int_or_none(data.get("n")),
            page=_int_or_none(data.get("g")),
            resolution=_int_or_none(data.get("r")),
            scope=_str_or_none(data.get("s")),
            level=_str_or_none(data.get("l")),
            channel=_str_or_none(data.get("c")),
            permalink=_str_or_none(data.get("p")),
        )

    def as_dict(self) -> dict:
        return asdict(self)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
