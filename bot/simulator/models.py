"""Records the fake Slack keeps, and how a person would read them.

These are plain dataclasses so tests can assert on attributes
(``msg.text``, ``msg.replies``, ``view.title``) instead of digging
through nested dicts; ``to_api()`` turns them back into the JSON shape
the real Web API answers with.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterator, NamedTuple, Optional


class SlackApiFault(Exception):
    """Raised inside a Web API method to make the call fail like Slack does.

    ``error`` becomes ``{"ok": false, "error": ...}``; ``status`` is the HTTP
    status (200 for ordinary API errors), ``extra`` is merged into the body and
    ``headers`` are sent as-is (e.g. ``Retry-After``).  Custom methods added
    with ``FakeSlack.add_method`` raise it too.
    """

    def __init__(self, error: str, *, status: int = 200, extra: Optional[dict] = None,
                 headers: Optional[dict] = None):
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra or {}
        self.headers = headers or {}


class Call(NamedTuple):
    """One request the fake received: Web API method (or "response_url")."""

    method: str
    params: dict
    at: float  # time.monotonic() when answered
    status: int  # HTTP status of the answer


def _text_of(obj: Any) -> str:
    """Text of a Slack text object (or a bare string)."""
    if isinstance(obj, dict):
        return str(obj.get("text") or "")
    return str(obj or "")


def block_lines(blocks: Optional[list]) -> list[str]:
    """What a person reads in a list of blocks: headers, sections, contexts,
    input labels and button captions (buttons in [brackets])."""
    lines: list[str] = []
    for block in blocks or []:
        kind = block.get("type")
        if kind in ("header", "section"):
            if block.get("text"):
                lines.append(_text_of(block["text"]))
            for fld in block.get("fields") or []:
                lines.append(_text_of(fld))
            accessory = block.get("accessory") or {}
            if accessory.get("type") == "button":
                lines.append(f"[{_text_of(accessory.get('text'))}]")
        elif kind == "context":
            texts = [_text_of(el) for el in block.get("elements") or []
                     if el.get("type") in ("mrkdwn", "plain_text")]
            if texts:
                lines.append("  ".join(texts))
        elif kind == "actions":
            buttons = [f"[{_text_of(el.get('text'))}]" for el in block.get("elements") or []
                       if el.get("type") == "button"]
            if buttons:
                lines.append(" ".join(buttons))
        elif kind == "input":
            lines.append(f"{_text_of(block.get('label'))}: ____")
        elif kind == "rich_text":
            lines.append(_rich_text(block))
    return [line for line in lines if line]


def _rich_text(node: Any) -> str:
    # Thread replies typed by people arrive as rich_text; flatten it.
    if isinstance(node, dict):
        if node.get("type") == "text":
            return str(node.get("text", ""))
        if node.get("type") == "user":
            return f"<@{node.get('user_id')}>"
        return "".join(_rich_text(el) for el in node.get("elements") or [])
    return ""


def render_text(text: Optional[str], blocks: Optional[list]) -> str:
    """Message text plus the visible text of its blocks, one per line.

    Lines already shown are not repeated (bots often send the same words as
    the notification fallback ``text`` and as the first section).
    """
    out: list[str] = []
    for line in ([text] if text else []) + block_lines(blocks):
        if line not in out:
            out.append(line)
    return "\n".join(out)


def iter_elements(blocks: Optional[list]) -> Iterator[tuple[dict, dict]]:
    """Every interactive element with its block: (block, element)."""
    for block in blocks or []:
        for el in block.get("elements") or []:
            if isinstance(el, dict) and "action_id" in el:
                yield block, el
        for key in ("accessory", "element"):
            el = block.get(key)
            if isinstance(el, dict):
                yield block, el


@dataclass
class Message:
    """A message in a channel (root or thread reply)."""

    channel: str
    ts: str
    user: str
    text: str = ""
    blocks: list = field(default_factory=list)
    thread_ts: Optional[str] = None  # set on replies (parent ts)
    metadata: Optional[dict] = None  # {"event_type", "event_payload"}
    replies: list["Message"] = field(default_factory=list)
    edited: bool = False
    bot_id: Optional[str] = None  # set when the bot posted it
    reactions: dict = field(default_factory=dict)  # name -> [user ids]
    extra: dict = field(default_factory=dict)  # unfurl_links, reply_broadcast…
    files: list = field(default_factory=list)  # files shared with it (files.completeUploadExternal)

    @property
    def rendered(self) -> str:
        shown = render_text(self.text, self.blocks)
        lines = [f"[file: {f.get('title') or f.get('name')}]" for f in self.files]
        return "\n".join(part for part in (shown, *lines) if part)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def button(self, action_id: str) -> tuple[dict, dict]:
        """(block, element) of the element with this action_id, or KeyError."""
        for block, el in iter_elements(self.blocks):
            if el.get("action_id") == action_id:
                return block, el
        known = [el.get("action_id") for _, el in iter_elements(self.blocks)]
        raise KeyError(f"no element with action_id={action_id!r} on message {self.ts}; "
                       f"has {known}")

    def to_api(self, *, include_metadata: bool = True, edited_by: str = "") -> dict:
        out: dict[str, Any] = {"type": "message", "user": self.user, "text": self.text,
                               "ts": self.ts, "team": self.extra.get("team", "")}
        if self.blocks:
            out["blocks"] = copy.deepcopy(self.blocks)
        if self.bot_id:
            out["bot_id"] = self.bot_id
            out["app_id"] = "A0FAKEAPP"
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.replies:
            out["thread_ts"] = self.ts
            out["reply_count"] = len(self.replies)
            out["latest_reply"] = self.replies[-1].ts
            out["reply_users"] = sorted({r.user for r in self.replies})
        if self.edited:
            out["edited"] = {"user": edited_by or self.user, "ts": self.extra.get("edited_ts", "")}
        if self.reactions:
            out["reactions"] = [{"name": n, "users": list(u), "count": len(u)}
                                for n, u in self.reactions.items()]
        if include_metadata and self.metadata is not None:
            out["metadata"] = copy.deepcopy(self.metadata)
        if self.files:
            out["files"] = copy.deepcopy(self.files)
            out["upload"] = True
        return out


@dataclass
class Ephemeral:
    """An answer only one user sees: chat.postEphemeral or a response_url post."""

    channel: Optional[str]
    user: Optional[str]
    text: str
    blocks: list
    source: str  # "chat.postEphemeral" | "response_url"
    ts: str
    thread_ts: Optional[str] = None
    response_url_id: Optional[str] = None

    @property
    def rendered(self) -> str:
        return render_text(self.text, self.blocks)


@dataclass
class ResponseUrl:
    """A response_url handed to the bot in a payload, and what was POSTed to it."""

    id: str
    url: str
    channel: Optional[str]
    user: Optional[str]
    message_ts: Optional[str] = None  # message the interaction came from
    posts: list = field(default_factory=list)  # raw JSON bodies, in order


@dataclass
class StoredView:
    """A modal (opened/pushed) or a Home tab (published)."""

    id: str
    user: Optional[str]
    view: dict
    hash: str
    team_id: str
    root_view_id: str = ""
    previous_view_id: Optional[str] = None
    external_id: Optional[str] = None
    closed: bool = False
    updates: int = 0

    @property
    def type(self) -> str:
        return self.view.get("type", "")

    @property
    def title(self) -> str:
        return _text_of(self.view.get("title"))

    @property
    def callback_id(self) -> str:
        return self.view.get("callback_id", "")

    @property
    def private_metadata(self) -> str:
        return self.view.get("private_metadata", "")

    @property
    def blocks(self) -> list:
        return self.view.get("blocks") or []

    @property
    def rendered(self) -> str:
        return render_text(self.title, self.blocks)

    def to_api(self) -> dict:
        out = copy.deepcopy(self.view)
        out.update({
            "id": self.id, "team_id": self.team_id, "hash": self.hash,
            "app_id": "A0FAKEAPP", "bot_id": "B0FAKEBOT",
            "root_view_id": self.root_view_id or self.id,
            "previous_view_id": self.previous_view_id,
            "external_id": self.external_id or "",
            "state": {"values": {}},
        })
        out.setdefault("private_metadata", "")
        out.setdefault("callback_id", "")
        return out


@dataclass
class Channel:
    id: str
    name: str
    bot_member: bool = True
    archived: bool = False
    members: set = field(default_factory=set)
    is_private: bool = False
    is_im: bool = False
    messages: list[Message] = field(default_factory=list)  # roots, oldest first

    def to_api(self) -> dict:
        return {"id": self.id, "name": self.name, "is_channel": not self.is_im,
                "is_group": False, "is_im": self.is_im, "is_private": self.is_private,
                "is_archived": self.archived, "is_member": self.bot_member,
                "created": 1700000000, "num_members": len(self.members)}
