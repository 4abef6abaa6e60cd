"""Block Kit validation the way Slack's servers do it.

slack_sdk's model classes check most limits only when you build blocks with
them; the bot sends plain dicts, so the fake must check them itself or a
message that the real Slack rejects would pass every test.  Each problem is
reported as ``"<json pointer>: <reason>"``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any, Optional

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000  # Slack cuts longer text (it does not fail the call)
MAX_VIEW_BYTES = 250 * 1024

SECTION_TEXT = 3000
SECTION_FIELDS = 10
SECTION_FIELD_TEXT = 2000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
ID_LENGTH = 255  # block_id, action_id, callback_id, external_id
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
VIEW_TITLE = 24  # also submit / close
PRIVATE_METADATA = 3000
INPUT_INITIAL_VALUE = 3000
INPUT_LENGTH = 3000  # a plain_text_input's min_length (0-3000) and max_length (1-3000)
INPUT_LABEL = 2000


def _text(obj: Any) -> Optional[str]:
    return obj.get("text") if isinstance(obj, dict) else None


def _too_long(errors: list, path: str, value: Any, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        errors.append(f"{path}: must be at most {limit} characters (got {len(value)})")


def _elements_of(block: dict, path: str) -> list[tuple[str, dict]]:
    found = []
    for i, el in enumerate(block.get("elements") or []):
        if isinstance(el, dict):
            found.append((f"{path}/elements/{i}", el))
    for key in ("accessory", "element"):
        if isinstance(block.get(key), dict):
            found.append((f"{path}/{key}", block[key]))
    return found


def _check_element(el: dict, path: str, errors: list) -> None:
    _too_long(errors, f"{path}/action_id", el.get("action_id"), ID_LENGTH)
    kind = el.get("type")
    if kind == "button":
        _too_long(errors, f"{path}/text/text", _text(el.get("text")), BUTTON_TEXT)
        _too_long(errors, f"{path}/value", el.get("value"), BUTTON_VALUE)
    elif kind == "plain_text_input":
        _too_long(errors, f"{path}/initial_value", el.get("initial_value"), INPUT_INITIAL_VALUE)
        for name, least in (("min_length", 0), ("max_length", 1)):
            value = el.get(name)
            if value is not None and not (isinstance(value, int) and least <= value <= INPUT_LENGTH):
                errors.append(f"{path}/{name}: must be an integer from {least} to {INPUT_LENGTH} (got {value!r})")
        if isinstance(el.get("min_length"), int) and isinstance(el.get("max_length"), int) \
                and el["min_length"] > el["max_length"]:
            errors.append(f"{path}/min_length: must not exceed max_length")


def _check_block_limits(block: dict, path: str, errors: list) -> None:
    kind = block.get("type")
    _too_long(errors, f"{path}/block_id", block.get("block_id"), ID_LENGTH)
    if kind == "section":
        text = _text(block.get("text"))
        if text is not None:
            if not isinstance(text, str) or not text:
                errors.append(f"{path}/text/text: must be 1-{SECTION_TEXT} characters (got 0)")
            else:
                _too_long(errors, f"{path}/text/text", text, SECTION_TEXT)
        fields = block.get("fields") or []
        if len(fields) > SECTION_FIELDS:
            errors.append(f"{path}/fields: must have at most {SECTION_FIELDS} items (got {len(fields)})")
        for i, fld in enumerate(fields):
            _too_long(errors, f"{path}/fields/{i}/text", _text(fld), SECTION_FIELD_TEXT)
    elif kind == "header":
        _too_long(errors, f"{path}/text/text", _text(block.get("text")), HEADER_TEXT)
    elif kind == "context":
        n = len(block.get("elements") or [])
        if n > CONTEXT_ELEMENTS:
            errors.append(f"{path}/elements: must have at most {CONTEXT_ELEMENTS} items (got {n})")
    elif kind == "actions":
        n = len(block.get("elements") or [])
        if n > ACTIONS_ELEMENTS:
            errors.append(f"{path}/elements: must have at most {ACTIONS_ELEMENTS} items (got {n})")
    elif kind == "input":
        _too_long(errors, f"{path}/label/text", _text(block.get("label")), INPUT_LABEL)
    action_ids: set = set()
    for el_path, el in _elements_of(block, path):
        _check_element(el, el_path, errors)
        aid = el.get("action_id")
        if aid and aid in action_ids:
            errors.append(f"{el_path}/action_id: duplicate action_id {aid!r} in block")
        action_ids.add(aid)


def validate_blocks(blocks: Any, *, path: str = "/blocks",
                    max_blocks: int = MAX_MESSAGE_BLOCKS) -> list[str]:
    """Problems with a blocks array ([] when Slack would accept it)."""
    if blocks is None:
        return []
    if not isinstance(blocks, list):
        return [f"{path}: must be an array of blocks"]
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"{path}: must contain at most {max_blocks} blocks (got {len(blocks)})")
    seen_ids: set = set()
    for i, block in enumerate(blocks):
        bpath = f"{path}/{i}"
        if not isinstance(block, dict):
            errors.append(f"{bpath}: must be an object")
            continue
        own: list[str] = []
        _check_block_limits(block, bpath, own)
        if not own:  # slack_sdk repeats some of our checks; report each problem once
            try:
                parsed = Block.parse(copy.deepcopy(block))
                if parsed is None:
                    own.append(f"{bpath}/type: unsupported block type {block.get('type')!r}")
                else:
                    parsed.validate_json()
            except Exception as exc:  # SlackObjectFormationError, or malformed input
                own.append(f"{bpath}: {exc}")
        errors.extend(own)
        bid = block.get("block_id")
        if bid is not None:
            if bid in seen_ids:
                errors.append(f"{bpath}/block_id: duplicate block_id {bid!r}")
            seen_ids.add(bid)
    return errors


def validate_view(view: Any, *, path: str = "/view") -> list[str]:
    """Problems with a modal or Home tab view payload."""
    if not isinstance(view, dict):
        return [f"{path}: must be a JSON object"]
    errors: list[str] = []
    kind = view.get("type")
    if kind not in ("modal", "home"):
        errors.append(f"{path}/type: must be 'modal' or 'home' (got {kind!r})")
    for key in ("title", "submit", "close"):
        _too_long(errors, f"{path}/{key}/text", _text(view.get(key)), VIEW_TITLE)
    if kind == "modal" and not _text(view.get("title")):
        errors.append(f"{path}/title: a modal needs a title")
    _too_long(errors, f"{path}/callback_id", view.get("callback_id"), ID_LENGTH)
    _too_long(errors, f"{path}/external_id", view.get("external_id"), ID_LENGTH)
    _too_long(errors, f"{path}/private_metadata", view.get("private_metadata"), PRIVATE_METADATA)
    blocks = view.get("blocks")
    errors += validate_blocks(blocks if blocks is not None else [], path=f"{path}/blocks",
                              max_blocks=MAX_VIEW_BLOCKS)
    if kind == "modal" and not view.get("submit") and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks or []):
        errors.append(f"{path}/submit: a modal with input blocks needs a submit button")
    size = len(json.dumps(view).encode("utf-8"))
    if size > MAX_VIEW_BYTES:
        errors.append(f"{path}: must be at most {MAX_VIEW_BYTES} bytes (got {size})")
    if not errors:
        try:
            View(**copy.deepcopy(view)).validate_json()
        except Exception as exc:
            errors.append(f"{path}: {exc}")
    return errors


def _short_id(seed: str) -> str:
    return hashlib.sha1(seed.encode("utf-8")).hexdigest()[:6]


def assign_ids(blocks: Optional[list]) -> list:
    """Copy of blocks with block_id / action_id filled in where missing.

    Slack generates these server-side; payloads (block_actions, view state)
    always carry them, so the stored copy must too.
    """
    out = copy.deepcopy(blocks or [])
    for i, block in enumerate(out):
        if not isinstance(block, dict):
            continue
        if "block_id" not in block:
            block["block_id"] = _short_id(f"{i}:{json.dumps(block, sort_keys=True)}")
        for j, (_, el) in enumerate(_elements_of(block, "")):
            if block.get("type") in ("context", "rich_text") or "action_id" in el \
                    or el.get("type") in ("mrkdwn", "plain_text", "image"):
                continue
            el["action_id"] = _short_id(f"{block['block_id']}:{j}:{el.get('type')}")
    return out
