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

    def encode(self) -> str:
        short = {"t": self.ticket_id, "l": self.level, "c": self.channel, "p": self.permalink, "e": self.event_id}
        return json.dumps({k: v for k, v in short.items() if v is not None}, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | None) -> ActionContext:
        """Anything we can't read (an old or foreign value) decodes to an empty context."""
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        ticket_id, event_id = data.get("t"), data.get("e")
        return cls(
            ticket_id=ticket_id if isinstance(ticket_id, int) else None,
            event_id=event_id if isinstance(event_id, int) else None,
            level=_str_or_none(data.get("l")),
            channel=_str_or_none(data.get("c")),
            permalink=_str_or_none(data.get("p")),
        )

    def as_dict(self) -> dict:
        return asdict(self)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
