"""Reading a submitted modal's state back into {block_id: value}."""
from __future__ import annotations

from bot.ids import INPUT_ACTION


def submitted_values(view: dict) -> dict[str, object]:
    values: dict[str, object] = {}
    for block_id, actions in (view.get("state", {}).get("values") or {}).items():
        element = actions.get(INPUT_ACTION) or next(iter(actions.values()), {})
        kind = element.get("type")
        if kind in ("static_select", "radio_buttons", "external_select"):
            option = element.get("selected_option") or {}
            values[block_id] = option.get("value")
        elif kind == "checkboxes":
            values[block_id] = [option.get("value") for option in element.get("selected_options") or []]
        elif kind == "users_select":
            values[block_id] = element.get("selected_user")
        else:
            values[block_id] = element.get("value")
    return values
