"""Jinja rendering of Slack messages and views, mrkdwn-safe and within Block Kit limits.

Templates in `templates/` are Block Kit JSON. Every `{{ value }}` is escaped for
mrkdwn (`&`, `<`, `>`) and for JSON by the environment's finalize hook, so user
text can never ping `@channel`, hide a link or break the JSON. Text we build
ourselves (mentions, links) is wrapped in `Mrkdwn` and passes unescaped;
`|plain` marks text for plain_text fields, which Slack shows literally.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jinja2

import templates as templates_package

ELLIPSIS = "…"
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 3000  # fallback text; Slack's own cap is 40,000
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")
_SAFE_URL = re.compile(r"^https?://[^\s<>|]+$")


class Mrkdwn(str):
    """Text already in Slack mrkdwn, built by us: not escaped again."""


class Plain(str):
    """Text for plain_text fields: Slack shows it literally, so no mrkdwn escape."""


class TemplateJson(str):
    """A macro's output: JSON the template wrote itself, its values already escaped."""


def escape_mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(user_id: str | None) -> Mrkdwn:
    """<@U…> for a person; "Escalator" when the bot itself acted (no user)."""
    if not user_id:
        return Mrkdwn("Escalator")
    if not _USER_ID.match(user_id):
        return Mrkdwn(escape_mrkdwn(user_id))
    return Mrkdwn(f"<@{user_id}>")


def link(url: str | None, label: str) -> Mrkdwn:
    if not url or not _SAFE_URL.match(url):
        return Mrkdwn(escape_mrkdwn(label))
    return Mrkdwn(f"<{url}|{escape_mrkdwn(label).replace('|', '¦')}>")


def cut(text: Any, limit: int) -> str:
    if isinstance(text, Mrkdwn):  # stays mrkdwn (not escaped twice), cut without splitting an entity or link
        return Mrkdwn(cut_mrkdwn(text, limit))
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def _finalize(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, TemplateJson):
        return str(value)
    if isinstance(value, (Mrkdwn, Plain)):
        text = str(value)
    elif isinstance(value, bool | int | float):
        text = str(value)
    else:
        text = escape_mrkdwn(str(value))
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _money(amount: Any) -> str:
    if amount is None:
        return "—"
    return f"{float(amount):,.0f}" if float(amount) == int(amount) else f"{float(amount):,.2f}"


def _plain_cut(text: Any, limit: int) -> Plain:
    return Plain(cut(text, limit))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(templates_package.__file__).parent),
        autoescape=False,
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,  # templates ship with the package: no stat() of the file per render
    )
    env.filters.update(
        plain=Plain, json=TemplateJson, cut=cut, plain_cut=_plain_cut, mention=mention, link=link, money=_money,
        mrkdwn=lambda text: Mrkdwn(escape_mrkdwn(str(text))),
    )
    from bot.forms import INPUT_LIMITS

    env.globals.update(mention=mention, link=link, limits=INPUT_LIMITS)
    return env


_ENV = _environment()


def render(name: str, **context: Any) -> dict[str, Any]:
    """Render a template to a Block Kit dict (a message payload or a view)."""
    source = _ENV.get_template(name).render(**context)
    try:
        payload = json.loads(source)
    except json.JSONDecodeError as exc:  # a template bug, never user input
        raise RuntimeError(f"template {name} produced invalid JSON: {exc}") from exc
    return fit_view(payload) if payload.get("type") in ("modal", "home") else fit_message(payload)


# --- Block Kit limits -------------------------------------------------------

def cut_mrkdwn(text: str, limit: int) -> str:
    """Cut to `limit` characters with "…" without splitting an entity or a <link>."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    last_open, last_close = head.rfind("<"), head.rfind(">")
    if last_open > last_close:
        head = head[:last_open]
    last_amp = head.rfind("&")
    if last_amp != -1 and ";" not in head[last_amp:] and len(head) - last_amp < 8:
        head = head[:last_amp]
    return head.rstrip() + ELLIPSIS


def _fit_text_object(obj: dict | None, limit: int) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = cut_mrkdwn(obj["text"], limit)


def _fit_block(block: dict) -> None:
    kind = block.get("type")
    if kind == "section":
        _fit_text_object(block.get("text"), 3000)
        fields = block.get("fields")
        if fields:
            del fields[10:]
            for field in fields:
                _fit_text_object(field, 2000)
    elif kind == "header":
        _fit_text_object(block.get("text"), 150)
    elif kind == "context":
        del block["elements"][10:]
        for element in block["elements"]:
            _fit_text_object(element, 2000)
    elif kind == "actions":
        del block["elements"][25:]
        for element in block["elements"]:
            _fit_text_object(element.get("text"), 75)
    elif kind == "input":
        element = block.get("element", {})
        if isinstance(element.get("initial_value"), str):
            element["initial_value"] = cut(element["initial_value"], 3000)


def _fit_blocks(blocks: list[dict], limit: int) -> list[dict]:
    for block in blocks:
        _fit_block(block)
    if len(blocks) > limit:
        blocks = blocks[: limit - 1] + [
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{ELLIPSIS} more not shown"}]}
        ]
    return blocks


def fit_message(payload: dict) -> dict:
    if "blocks" in payload:
        payload["blocks"] = _fit_blocks(payload["blocks"], MAX_MESSAGE_BLOCKS)
    if isinstance(payload.get("text"), str):
        payload["text"] = cut_mrkdwn(payload["text"], MAX_MESSAGE_TEXT)
    return payload


def fit_view(view: dict) -> dict:
    view["blocks"] = _fit_blocks(view.get("blocks", []), MAX_VIEW_BLOCKS)
    for key in ("title", "submit", "close"):
        _fit_text_object(view.get(key), 24)
    return view
