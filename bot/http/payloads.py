"""The shapes of Slack payloads the bot accepts, checked before Bolt routes them.

Slack's payloads always have these shapes; a signed body without them is malformed
(a broken proxy, a test tool, a bug) and is refused with 400 before Bolt or a
listener reads a field that isn't there. Only the fields Bolt or our listeners read
are checked: anything else in a payload is ignored, as Slack adds fields freely.
A field Slack may send as null counts as absent.
"""
from __future__ import annotations

import functools
import re

_MISSING = object()

# Read by Bolt while it builds a request's context and routes it, whatever the kind.
_ANY_KIND = {
    "type": str, "token": str, "team_id": str, "enterprise_id": str, "api_app_id": str, "user_id": str,
    "channel_id": str, "response_url": str, "trigger_id": str, "callback_id": str, "command": str,
    "text": str, "event_id": str, "challenge": str, "is_enterprise_install": (bool, str),
    "team": dict, "team.id": str, "team.enterprise_id": str, "enterprise": dict, "enterprise.id": str,
    "user": dict, "user.id": str, "user.team_id": str, "channel": dict, "channel.id": str,
    "container": dict, "container.type": str, "container.channel_id": str, "container.message_ts": str,
    "message": dict, "message.ts": str, "message.text": str, "message.thread_ts": str,
    "view": dict, "view.id": str, "view.type": str, "view.callback_id": str, "view.private_metadata": str,
    "view.team_id": str, "view.state": dict, "view.state.values": dict, "view.blocks": list,
    "actions": list, "authorizations": list, "event": dict, "function_data": dict, "bot_access_token": str,
    "response_urls": list, "bot_id": str, "workflow_step": dict,
}

# Fields each kind of request must have, then fields it may have.
_BY_KIND: dict[str, tuple[dict, dict]] = {
    "command": ({"command": str, "user_id": str, "channel_id": str, "trigger_id": str, "response_url": str}, {}),
    "block_actions": ({"user.id": str, "actions.0": dict, "actions.0.action_id": str},
                      {"actions.0.value": str, "actions.0.block_id": str}),
    "view_submission": ({"user.id": str, "view.type": str, "view.callback_id": str}, {}),
    "view_closed": ({"user.id": str, "view.type": str, "view.callback_id": str}, {}),
    "shortcut": ({"callback_id": str, "user.id": str, "trigger_id": str}, {}),
    "message_action": ({"callback_id": str, "user.id": str, "trigger_id": str, "channel.id": str, "message.ts": str},
                       {}),
    "event_callback": ({"event.type": str},
                       {"event.user": str, "event.channel": str, "event.ts": str, "event.thread_ts": str,
                        "event.text": str, "event.subtype": str, "event.bot_id": str, "event.tab": str,
                        "event.message": dict, "event.message.user": str, "event.message.ts": str,
                        "event.message.text": str, "event.message.bot_id": str}),
    "url_verification": ({"challenge": str}, {}),
}

# What each kind of event must carry (Slack always sends these).
_BY_EVENT = {
    "message": {"event.channel": str},
    "app_home_opened": {"event.user": str},
}

_IDENTIFIER = re.compile(r"[\w./:-]{1,60}", re.ASCII)


def kind_of(body: object) -> str | None:
    if not isinstance(body, dict):
        return None
    if "command" in body and "type" not in body:
        return "command"
    kind = body.get("type")
    return kind if isinstance(kind, str) else None


def problem(body: object) -> str | None:
    """What makes `body` unacceptable (a field path and what is wrong, never its value), or None."""
    if not isinstance(body, dict):
        return f"the payload is a JSON {type(body).__name__}, not an object"
    required, optional = _BY_KIND.get(kind_of(body) or "", ({}, {}))
    event_type = _at(body, "event.type") if kind_of(body) == "event_callback" else None
    if isinstance(event_type, str):
        required = {**required, **_BY_EVENT.get(event_type, {})}
    for checks in (_ANY_KIND, optional, required):
        for path, expected in checks.items():
            value = _at(body, path)
            if value is not _MISSING and value is not None and not isinstance(value, expected):
                return f"{path} is not {_name(expected)}"
    for path in required:
        if _at(body, path) in (_MISSING, None):
            return f"{path} is missing"
    response_url = body.get("response_url")
    if response_url is not None and not response_url.startswith(("https://", "http://")):
        return "response_url is not a URL"
    if kind_of(body) == "block_actions" and _at(body, "container.type") != "view" and response_url is None:
        return "response_url is missing (Slack sends one with every click on a message)"
    return None


def describe(body: object) -> str:
    """The request's kind and the id it is routed by (e.g. `block_actions ticket.acknowledge`),
    for a log line: identifiers only, never what a person typed."""
    kind = kind_of(body)
    if kind is None:
        return "unknown kind"
    routed_by = {
        "command": ("command",), "block_actions": ("actions", 0, "action_id"),
        "view_submission": ("view", "callback_id"), "view_closed": ("view", "callback_id"),
        "shortcut": ("callback_id",), "message_action": ("callback_id",), "event_callback": ("event", "type"),
    }.get(kind)
    label = _identifier(kind)
    if routed_by:
        label += " " + _identifier(_at(body, ".".join(map(str, routed_by))))
    return label


def _identifier(value: object) -> str:
    return value if isinstance(value, str) and _IDENTIFIER.fullmatch(value) else "(unreadable)"


def _at(body: dict, path: str) -> object:
    value: object = body
    for step in _steps(path):
        if isinstance(value, dict):
            value = value.get(step, _MISSING)
        elif isinstance(value, list) and step.isdigit():
            value = value[int(step)] if int(step) < len(value) else _MISSING
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


@functools.cache
def _steps(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def _name(expected) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join({str: "a string", dict: "an object", list: "a list", bool: "a boolean"}[t] for t in types)
