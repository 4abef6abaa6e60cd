"""A plain-text picture of everything the fake Slack holds.

``escalator demo`` prints it, and ``wait_for`` appends it to failures, so it
is written for a person: channels with their threads indented, then what only
one user saw (ephemerals), modals and Home tabs.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import FakeSlack


def _clock(ts: str) -> str:
    return datetime.datetime.fromtimestamp(float(ts), datetime.timezone.utc).strftime("%H:%M:%S")


def _indent(text: str, prefix: str) -> str:
    lines = (text or "(no text)").splitlines() or [""]
    return "\n".join([lines[0]] + [prefix + line for line in lines[1:]])


def _author(sim: "FakeSlack", user: str | None) -> str:
    return "bot" if user == sim.bot_user_id else f"<@{user}>"


def render_transcript(sim: "FakeSlack") -> str:
    out: list[str] = []
    for ch in sim.channels.values():
        flags = [f for f, on in (("archived", ch.archived), ("bot not a member", not ch.bot_member))
                 if on]
        name = ch.id if ch.is_im else f"#{ch.name} ({ch.id})"
        out.append(f"== {name}" + (f" [{', '.join(flags)}]" if flags else ""))
        if not ch.messages:
            out.append("   (no messages)")
        for msg in ch.messages:
            head = f"[{_clock(msg.ts)}] {_author(sim, msg.user)}: "
            edited = " (edited)" if msg.edited else ""
            out.append("   " + head + _indent(msg.rendered, "   " + " " * len(head)) + edited)
            for reply in msg.replies:
                head = f"   ↳ [{_clock(reply.ts)}] {_author(sim, reply.user)}: "
                out.append("   " + head + _indent(reply.rendered, "   " + " " * len(head)))
        out.append("")
    if sim._ephemerals:
        out.append("== only visible to one user")
        for eph in sim._ephemerals:
            where = f"#{sim.channels[eph.channel].name}" if eph.channel in sim.channels else eph.channel
            head = f"[{_clock(eph.ts)}] to <@{eph.user}> in {where} ({eph.source}): "
            out.append("   " + head + _indent(eph.rendered, "   " + " " * len(head)))
        out.append("")
    modals = [v for v in sim._views.values() if v.type == "modal"]
    if modals:
        out.append("== modals")
        for view in modals:
            state = "closed" if view.closed else "open"
            head = f"{view.id} for <@{view.user}> ({view.callback_id or 'no callback_id'}, {state}): "
            out.append("   " + head + _indent(view.rendered, "   " + " " * len(head)))
        out.append("")
    if sim._homes:
        out.append("== home tabs")
        for user, view in sim._homes.items():
            head = f"<@{user}>: "
            out.append("   " + head + _indent(view.rendered, "   " + " " * len(head)))
        out.append("")
    return "\n".join(out).rstrip() + "\n"
