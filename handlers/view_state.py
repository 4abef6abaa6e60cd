"""Reading a submitted modal's state back into {block_id: value}.

Values come back as str (a list of str for checkboxes) or None: an element of a shape
we don't know reads as unanswered, so the form's own validation speaks for it.
"""
from __future__ import annotations

from bot.ids import INPUT_ACTION


def submitted_values(view: dict) -> dict[str, object]:
    values: dict[str, object] = {}
    state = view.get("state")
    blocks = state.get("values") if isinstance(state, dict) else None
    for block_id, actions in (blocks if isinstance(blocks, dict) else {}).items():
        if not isinstance(actions, dict):
            continue
        element = actions.get(INPUT_ACTION) or next(iter(actions.values()), {})
        if not isinstance(element, dict):
            continue
        kind = element.get("type")
        if kind in ("static_select", "radio_buttons", "external_select"):
            values[block_id] = _text(_option_value(element.get("selected_option")))
        elif kind == "checkboxes":
            options = element.get("selected_options")
            chosen = [_text(_option_value(option)) for option in options] if isinstance(options, list) else []
            values[block_id] = [value for value in chosen if value is not None]
        elif kind == "users_select":
            values[block_id] = _text(element.get("selected_user"))
        else:
            values[block_id] = _text(element.get("value"))
    return values


def _option_value(option: object) -> object:
    return option.get("value") if isinstance(option, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
