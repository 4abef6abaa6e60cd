"""SlackDriver: plays the people using Slack, sending signed requests to the bot.

Each method builds the payload Slack would send for a user action (slash
command, shortcut, button click, modal submission, event), signs it with the
app's signing secret and POSTs it to the bot's request URL.  Trigger ids and
response_urls come from the FakeSlack, so whatever the bot does with them
(views.open, respond()) lands in the simulator's state.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from .models import iter_elements
from .server import FakeSlack

_MISSING = object()
_TEXT_INPUTS = ("plain_text_input", "number_input", "email_text_input", "url_text_input",
                "rich_text_input")
_SINGLE_PICKS = {"users_select": ("selected_user", "initial_user"),
                 "conversations_select": ("selected_conversation", "initial_conversation"),
                 "channels_select": ("selected_channel", "initial_channel"),
                 "multi_users_select": ("selected_users", "initial_users"),
                 "multi_conversations_select": ("selected_conversations", "initial_conversations"),
                 "multi_channels_select": ("selected_channels", "initial_channels"),
                 "datepicker": ("selected_date", "initial_date"),
                 "timepicker": ("selected_time", "initial_time"),
                 "datetimepicker": ("selected_date_time", "initial_date_time")}


@dataclass
class DriverResponse:
    """The bot's HTTP answer. ``json`` is the parsed body (None if empty/not JSON);
    ``ts`` is set by thread_reply/channel_message (the user's message)."""

    status: int
    body: str
    headers: dict = field(default_factory=dict)
    json: Any = None
    ts: Optional[str] = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _options(el: dict) -> list[dict]:
    opts = list(el.get("options") or [])
    for group in el.get("option_groups") or []:
        opts += group.get("options") or []
    return opts


def pick_option(el: dict, wanted: Any) -> dict:
    """The option whose text equals wanted (or whose value does), else the first
    whose text starts with it."""
    opts = _options(el)
    texts = [str(o.get("text", {}).get("text", "")) for o in opts]
    for match in (lambda t, o: t == wanted, lambda t, o: o.get("value") == wanted,
                  lambda t, o: t.startswith(str(wanted))):
        for text, opt in zip(texts, opts):
            if match(text, opt):
                return json.loads(json.dumps(opt))
    raise ValueError(f"no option {wanted!r} in {el.get('action_id')!r}; options: {texts}")


def state_value(el: dict, given: Any = _MISSING) -> dict:
    """view.state.values entry for one element; _MISSING keeps its initial value."""
    kind = el.get("type", "")
    out: dict[str, Any] = {"type": kind}
    keep = given is _MISSING
    if kind in _TEXT_INPUTS:
        out["value"] = el.get("initial_value") if keep else (None if given is None else str(given))
    elif kind in ("static_select", "radio_buttons", "external_select"):
        out["selected_option"] = el.get("initial_option") if keep else (
            None if given is None else pick_option(el, given))
    elif kind in ("checkboxes", "multi_static_select", "multi_external_select"):
        if keep:
            out["selected_options"] = el.get("initial_options") or []
        elif isinstance(given, bool):
            opts = _options(el)
            if len(opts) != 1:
                raise ValueError(f"True/False needs a single-option group; {el.get('action_id')!r} "
                                 f"has {len(opts)} options")
            out["selected_options"] = opts[:1] if given else []
        else:
            wanted = given if isinstance(given, (list, tuple)) else [given]
            out["selected_options"] = [pick_option(el, w) for w in wanted]
    elif kind in _SINGLE_PICKS:
        selected, initial = _SINGLE_PICKS[kind]
        out[selected] = el.get(initial) if keep else given
    else:
        out["value"] = None if keep else given
    return out


def _is_empty(state: dict) -> bool:
    values = [v for k, v in state.items() if k != "type"]
    return all(v in (None, "", [], {}) for v in values)


class SlackDriver:
    def __init__(self, bot_url: str, signing_secret: str, sim: FakeSlack,
                 team_id: Optional[str] = None, *, api_app_id: str = "A0FAKEAPP",
                 timeout: float = 10.0):
        self.bot_url = bot_url
        self.sim = sim
        self.team_id = team_id or sim.team_id
        self.api_app_id = api_app_id
        self.timeout = timeout
        self._verifier = SignatureVerifier(signing_secret)

    # -- transport -------------------------------------------------------------
    def sign(self, body: bytes | str, timestamp: int | str) -> str:
        """The X-Slack-Signature value for body sent at timestamp."""
        return self._verifier.generate_signature(timestamp=str(timestamp), body=body)

    def send_raw(self, body: bytes, headers: dict) -> DriverResponse:
        """POST body with exactly these headers (for unsigned / stale requests)."""
        req = urllib.request.Request(self.bot_url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                status, raw, hdrs = resp.status, resp.read(), dict(resp.headers.items())
        except urllib.error.HTTPError as err:
            status, raw, hdrs = err.code, err.read(), dict(err.headers.items())
        text = raw.decode("utf-8", "replace")
        try:
            parsed = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = None
        return DriverResponse(status, text, hdrs, parsed)

    def _send(self, body: bytes, content_type: str, extra: Optional[dict] = None) -> DriverResponse:
        timestamp = str(int(time.time()))
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
                   "X-Slack-Signature": self.sign(body, timestamp), **(extra or {})}
        return self.send_raw(body, headers)

    def _send_form(self, fields: dict) -> DriverResponse:
        return self._send(urlencode(fields).encode("utf-8"), "application/x-www-form-urlencoded")

    def _send_interaction(self, payload: dict) -> DriverResponse:
        return self._send_form({"payload": json.dumps(payload)})

    # -- building blocks of payloads --------------------------------------------------
    def _user(self, user: str) -> dict:
        name = self.sim.users.get(user, {}).get("name") or user.lower()
        return {"id": user, "username": name, "name": name, "team_id": self.team_id}

    def _channel(self, channel: str) -> dict:
        ch = self.sim.channels.get(channel)
        return {"id": channel, "name": ch.name if ch else channel}

    def _base(self, kind: str, user: str) -> dict:
        return {"type": kind, "token": "fake-verification-token", "api_app_id": self.api_app_id,
                "team": {"id": self.team_id, "domain": "fake"}, "user": self._user(user),
                "enterprise": None, "is_enterprise_install": False}

    # -- user actions ----------------------------------------------------------------
    def command(self, user: str, channel: str, text: str, command: str = "/escalate") -> DriverResponse:
        """The user types `command text` in channel. Like Slack, a message in the
        bot's answer is shown to the user as an ephemeral in that channel."""
        response_url = self.sim.new_response_url(channel=channel, user=user)
        answer = self._send_form({
            "token": "fake-verification-token", "team_id": self.team_id, "team_domain": "fake",
            "channel_id": channel, "channel_name": self._channel(channel)["name"],
            "user_id": user, "user_name": self._user(user)["name"], "command": command,
            "text": text, "api_app_id": self.api_app_id, "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": self.sim.new_trigger_id(user)})
        if answer.status == 200 and isinstance(answer.json, dict) and (
                answer.json.get("text") or answer.json.get("blocks")):
            shown = dict(answer.json, response_type=answer.json.get("response_type", "ephemeral"))
            webhook = urllib.request.Request(response_url, data=json.dumps(shown).encode("utf-8"),
                                             headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(webhook, timeout=self.timeout) as shown_answer:
                result = json.loads(shown_answer.read() or b"{}")
            if not result.get("ok", True):
                raise AssertionError(f"Slack would refuse the bot's answer to {command} {text}: {result}")
        return answer

    def message_shortcut(self, user: str, channel: str, message_ts: str,
                         callback_id: str = "escalate_message") -> DriverResponse:
        """The user picks the message shortcut from a stored message's ⋮ menu."""
        msg = self.sim.message(channel, message_ts)
        if msg is None:
            raise LookupError(f"no message {message_ts} in {channel}")
        payload = self._base("message_action", user)
        payload.update(callback_id=callback_id, trigger_id=self.sim.new_trigger_id(user),
                       response_url=self.sim.new_response_url(channel=channel, user=user),
                       channel=self._channel(channel), message=msg.to_api(),
                       message_ts=message_ts, action_ts=f"{time.time():.6f}")
        return self._send_interaction(payload)

    def global_shortcut(self, user: str, callback_id: str = "new_escalation") -> DriverResponse:
        payload = self._base("shortcut", user)
        payload.update(callback_id=callback_id, trigger_id=self.sim.new_trigger_id(user),
                       action_ts=f"{time.time():.6f}")
        return self._send_interaction(payload)

    def click(self, user: str, channel: str, message_ts: str, action_id: str,
              value: Optional[str] = None, block_id: Optional[str] = None) -> DriverResponse:
        """The user clicks the element action_id on a message (or an ephemeral)."""
        msg = self.sim.message(channel, message_ts)
        eph = next((e for e in self.sim.ephemerals(channel) if e.ts == message_ts), None)
        blocks = msg.blocks if msg else eph.blocks if eph else None
        if blocks is None:
            raise LookupError(f"no message or ephemeral {message_ts} in {channel}")
        found = next((pair for pair in iter_elements(blocks)
                      if pair[1].get("action_id") == action_id), None)
        if found is None and (value is None or block_id is None):
            known = [e.get("action_id") for _, e in iter_elements(blocks)]
            raise LookupError(f"no element {action_id!r} on {message_ts}; has {known}")
        blk, el = found or ({}, {"type": "button"})
        block_id = block_id or blk.get("block_id")
        action: dict[str, Any] = {"action_id": action_id, "block_id": block_id,
                                  "type": el.get("type", "button"), "action_ts": f"{time.time():.6f}"}
        if action["type"] == "button":
            action.update(value=value if value is not None else el.get("value"), text=el.get("text"))
        elif _options(el):
            action["selected_option"] = pick_option(el, value)
        container = {"type": "message", "message_ts": message_ts, "channel_id": channel,
                     "is_ephemeral": msg is None}
        payload = self._base("block_actions", user)
        if msg is not None:
            payload["message"] = msg.to_api()
            if msg.is_reply:
                container["thread_ts"] = msg.thread_ts
        payload.update(container=container, channel=self._channel(channel),
                       trigger_id=self.sim.new_trigger_id(user), state={"values": {}},
                       response_url=self.sim.new_response_url(channel, user, message_ts),
                       actions=[action])
        return self._send_interaction(payload)

    def submit_view(self, user: str, view_id: str, values_by_label: Optional[dict] = None,
                    *, enforce_required: bool = True) -> DriverResponse:
        """The user fills the modal's inputs (by exact label text) and presses submit.

        Inputs not named keep their initial values. With enforce_required, an
        empty required input raises ValueError: Slack would not send the request.
        Afterwards the sim closes/updates the modal as Slack does for the answer."""
        sv = self.sim.view(view_id)
        given = dict(values_by_label or {})
        inputs = {b["label"]["text"]: b for b in sv.blocks if b.get("type") == "input"}
        unknown = [label for label in given if label not in inputs]
        if unknown:
            raise KeyError(f"no input labelled {unknown} in {view_id}; labels: {list(inputs)}")
        values: dict = {}
        for label, block in inputs.items():
            el = block["element"]
            state = state_value(el, given.get(label, _MISSING))
            if enforce_required and not block.get("optional") and _is_empty(state):
                raise ValueError(f"required input {label!r} is empty; Slack would not submit")
            values.setdefault(block["block_id"], {})[el["action_id"]] = state
        payload = self._base("view_submission", user)
        payload.update(trigger_id=self.sim.new_trigger_id(user), response_urls=[],
                       view={**sv.to_api(), "state": {"values": values}})
        resp = self._send_interaction(payload)
        if resp.ok:
            self.sim.apply_view_response(view_id, resp.json if isinstance(resp.json, dict) else None)
        return resp

    def close_view(self, user: str, view_id: str) -> Optional[DriverResponse]:
        """The user cancels the modal; view_closed is sent only if notify_on_close."""
        sv = self.sim.view(view_id)
        with self.sim.lock:
            sv.closed = True
        if not sv.view.get("notify_on_close"):
            return None
        payload = self._base("view_closed", user)
        payload.update(view=sv.to_api(), is_cleared=False)
        return self._send_interaction(payload)

    # -- events ----------------------------------------------------------------------
    def event(self, event: dict, event_id: Optional[str] = None, retry_num: Optional[int] = None,
              retry_reason: str = "http_timeout") -> DriverResponse:
        """Deliver an Events API event_callback (a retry when retry_num is given)."""
        envelope = {
            "token": "fake-verification-token", "team_id": self.team_id,
            "api_app_id": self.api_app_id, "event": event, "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()), "is_ext_shared_channel": False,
            "authorizations": [{"enterprise_id": None, "team_id": self.team_id,
                                "user_id": self.sim.bot_user_id, "is_bot": True,
                                "is_enterprise_install": False}]}
        extra = {}
        if retry_num is not None:
            extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return self._send(json.dumps(envelope).encode("utf-8"), "application/json", extra)

    def _message_event(self, user: str, channel: str, text: str,
                       thread_ts: Optional[str]) -> DriverResponse:
        ts = self.sim.post_as_user(user, channel, text, thread_ts=thread_ts)
        msg = self.sim.message(channel, ts)
        ch = self.sim.channels.get(msg.channel)
        kind = "im" if ch and ch.is_im else "group" if ch and ch.is_private else "channel"
        event = {"type": "message", "channel": msg.channel, "user": user, "text": text, "ts": ts,
                 "event_ts": ts, "channel_type": kind, "team": self.team_id,
                 "client_msg_id": str(uuid.uuid4())}
        if msg.thread_ts:
            event.update(thread_ts=msg.thread_ts,
                         parent_user_id=self.sim.message(channel, msg.thread_ts).user)
        resp = self.event(event)
        resp.ts = ts
        return resp

    def thread_reply(self, user: str, channel: str, thread_ts: str, text: str) -> DriverResponse:
        """The user replies in a thread: stored in the sim, then the message event."""
        return self._message_event(user, channel, text, thread_ts)

    def channel_message(self, user: str, channel: str, text: str) -> DriverResponse:
        """The user posts a root message: stored in the sim, then the message event."""
        return self._message_event(user, channel, text, None)

    def usergroup_changed(self, group_id: str, members: list[str]) -> DriverResponse:
        """Someone edits a user group in Slack: the sim's group changes, then Slack's
        `subteam_members_changed` event arrives."""
        change = self.sim.set_usergroup(group_id, members)
        now = int(time.time())
        return self.event({"type": "subteam_members_changed", "subteam_id": group_id, "team_id": self.team_id,
                           "date_previous_update": now - 60, "date_update": now,
                           "added_users": change["added_users"], "added_users_count": str(len(change["added_users"])),
                           "removed_users": change["removed_users"],
                           "removed_users_count": str(len(change["removed_users"])),
                           "event_ts": f"{now}.000100"})

    def app_home_opened(self, user: str) -> DriverResponse:
        home = self.sim.home(user)
        event = {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home",
                 "event_ts": f"{time.time():.6f}"}
        if home is not None:
            event["view"] = home.to_api()
        return self.event(event)
