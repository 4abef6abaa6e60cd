"""The Web API methods of the fake Slack, answering with Slack's field names.

Mixed into ``FakeSlack``; every ``_api_*`` method takes the decoded params and
returns the body of a successful answer (``ok`` is added by the caller) or
raises ``SlackApiFault``.  The caller holds the state lock.
"""

from __future__ import annotations

import copy
import datetime
import time
from typing import Any, Callable, Optional
from zoneinfo import ZoneInfo

from .blocks import MAX_MESSAGE_TEXT, assign_ids, validate_blocks, validate_view
from .models import Channel, Ephemeral, Message, SlackApiFault, StoredView

API_METHODS: dict[str, str] = {}  # "chat.postMessage" -> "_api_chat_postMessage"


def api(name: str) -> Callable:
    def register(func: Callable) -> Callable:
        API_METHODS[name] = func.__name__
        return func
    return register


def truthy(value: Any) -> bool:
    """Form bodies carry booleans as "1"/"true"; JSON bodies as true."""
    return value in (True, 1) or str(value).lower() in ("1", "true")


class WebApiMethods:
    # Attributes provided by FakeSlack: token, bot_user_id, bot_id, team_id,
    # channels, users, trigger_ttl, _views, _homes, _ephemerals, _triggers,
    # _next_ts(), _next_id(prefix).
    channels: dict[str, Channel]

    # -- shared checks -------------------------------------------------------
    def _channel(self, p: dict, key: str = "channel", *, need_member: bool = False,
                 allow_archived: bool = False) -> Channel:
        cid = p.get(key)
        if cid and cid[0] in "UW" and cid not in self.channels:
            cid = self._open_dm(cid).id  # posting to a user id opens the DM, as Slack does
        ch = self.channels.get(cid or "")
        if ch is None:
            raise SlackApiFault("channel_not_found")
        if ch.archived and not allow_archived:
            raise SlackApiFault("is_archived")
        if need_member and not ch.bot_member:
            raise SlackApiFault("not_in_channel")
        return ch

    def _open_dm(self, user: str) -> Channel:
        cid = "D" + user
        if cid not in self.channels:
            self.channels[cid] = Channel(cid, cid, bot_member=True, members={user}, is_im=True)
        return self.channels[cid]

    def _find(self, channel: str, ts: Optional[str]) -> Optional[Message]:
        return self._by_ts.get((channel, ts or ""))

    def _check_message_blocks(self, p: dict) -> None:
        errors = validate_blocks(p.get("blocks"))
        if errors:
            raise SlackApiFault("invalid_blocks", extra={
                "errors": errors,
                "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]}})

    def _check_view(self, view: Any, kind: Optional[str] = None) -> dict:
        errors = validate_view(view)
        if not errors and kind and view.get("type") != kind:
            errors = [f"/view/type: must be {kind!r} for this method"]
        if errors:
            raise SlackApiFault("invalid_arguments", extra={
                "errors": errors,
                "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]}})
        return view

    def _clip_text(self, p: dict, answer: dict) -> str:
        text = p.get("text") or ""
        if len(text) > MAX_MESSAGE_TEXT:  # Slack cuts, it does not fail the call
            answer["warning"] = "message_truncated"
            text = text[:MAX_MESSAGE_TEXT]
        return text

    def _metadata(self, p: dict) -> Optional[dict]:
        meta = p.get("metadata")
        if meta in (None, ""):
            return None
        if not isinstance(meta, dict) or not isinstance(meta.get("event_type"), str) \
                or not isinstance(meta.get("event_payload", {}), dict):
            raise SlackApiFault("invalid_metadata_format")
        return {"event_type": meta["event_type"], "event_payload": meta.get("event_payload", {})}

    def _store(self, ch: Channel, msg: Message) -> Message:
        parent = self._find(ch.id, msg.thread_ts) if msg.thread_ts else None
        (parent.replies if parent else ch.messages).append(msg)
        self._by_ts[(ch.id, msg.ts)] = msg
        return msg

    def _thread_parent(self, ch: Channel, thread_ts: Optional[str]) -> Optional[Message]:
        if not thread_ts:
            return None
        parent = self._find(ch.id, thread_ts)
        if parent is None:
            raise SlackApiFault("message_not_found")
        return self._find(ch.id, parent.thread_ts) if parent.is_reply else parent

    # -- auth / users --------------------------------------------------------
    @api("auth.test")
    def _api_auth_test(self, p: dict) -> dict:
        return {"url": "https://fake.slack.test/", "team": "Fake Team", "user": "escalator",
                "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id,
                "is_enterprise_install": False}

    def _check_app_token(self, token: Optional[str]) -> None:
        """apps.connections.open takes only the app-level token, with connections:write."""
        if not token:
            raise SlackApiFault("not_authed")
        if not token.startswith("xapp-"):
            raise SlackApiFault("not_allowed_token_type")
        if token != self.app_token:
            raise SlackApiFault("invalid_auth")
        if "connections:write" not in self.app_token_scopes:
            raise SlackApiFault("missing_scope", extra={
                "needed": "connections:write", "provided": ",".join(sorted(self.app_token_scopes))})

    @api("apps.connections.open")
    def _api_apps_connections_open(self, p: dict) -> dict:
        if self.socket_mode is None:
            raise SlackApiFault("internal_error")  # the test did not enable_socket_mode()
        return {"url": self.socket_mode.new_url()}

    @api("users.info")
    def _api_users_info(self, p: dict) -> dict:
        uid = p.get("user") or ""
        if not uid:
            raise SlackApiFault("user_not_found")
        user = copy.deepcopy(self.users.get(uid) or self.make_user(uid))
        return {"user": user}

    def make_user(self, uid: str, *, name: Optional[str] = None, real_name: Optional[str] = None,
                  tz: str = "Europe/Berlin", is_bot: bool = False, email: Optional[str] = None,
                  deleted: bool = False) -> dict:
        """The users.info record for uid (unknown ids get a plausible person)."""
        name = name or uid.lower()
        real_name = real_name or f"User {uid}"
        try:
            offset = int(ZoneInfo(tz).utcoffset(datetime.datetime.now()).total_seconds())
        except Exception:  # no tz database on this machine
            offset = 3600
        return {"id": uid, "team_id": self.team_id, "name": name, "real_name": real_name,
                "deleted": deleted, "tz": tz, "tz_label": tz, "tz_offset": offset,
                "is_bot": is_bot or uid == self.bot_user_id, "is_admin": False,
                "profile": {"real_name": real_name, "display_name": name,
                            "email": email or f"{name}@fake.slack.test"}}

    # -- chat ----------------------------------------------------------------
    @api("chat.postMessage")
    def _api_chat_postMessage(self, p: dict) -> dict:
        ch = self._channel(p, need_member=True)
        if not p.get("text") and not p.get("blocks") and not p.get("attachments"):
            raise SlackApiFault("no_text")
        self._check_message_blocks(p)
        answer: dict = {}
        text = self._clip_text(p, answer)
        metadata = self._metadata(p)
        parent = self._thread_parent(ch, p.get("thread_ts"))
        extra = {k: p[k] for k in ("unfurl_links", "unfurl_media", "reply_broadcast", "mrkdwn",
                                    "attachments", "username", "icon_emoji") if k in p}
        extra["team"] = self.team_id
        msg = self._store(ch, Message(
            channel=ch.id, ts=self._next_ts(), user=self.bot_user_id, text=text,
            blocks=assign_ids(p.get("blocks")), thread_ts=parent.ts if parent else None,
            metadata=metadata, bot_id=self.bot_id, extra=extra))
        answer.update(channel=ch.id, ts=msg.ts, message=msg.to_api())
        return answer

    @api("chat.update")
    def _api_chat_update(self, p: dict) -> dict:
        ch = self._channel(p, need_member=True)
        msg = self._find(ch.id, p.get("ts"))
        if msg is None:
            raise SlackApiFault("message_not_found")
        if msg.user != self.bot_user_id:
            raise SlackApiFault("cant_update_message")
        self._check_message_blocks(p)
        answer: dict = {}
        if "text" in p:
            msg.text = self._clip_text(p, answer)
        if "blocks" in p:
            msg.blocks = assign_ids(p.get("blocks"))
        if p.get("metadata"):
            msg.metadata = self._metadata(p)
        msg.edited = True
        msg.extra["edited_ts"] = self._next_ts()
        answer.update(channel=ch.id, ts=msg.ts, text=msg.text, message=msg.to_api())
        return answer

    @api("chat.delete")
    def _api_chat_delete(self, p: dict) -> dict:
        ch = self._channel(p)
        msg = self._find(ch.id, p.get("ts"))
        if msg is None:
            raise SlackApiFault("message_not_found")
        if msg.user != self.bot_user_id:
            raise SlackApiFault("cant_delete_message")
        parent = self._find(ch.id, msg.thread_ts) if msg.is_reply else None
        (parent.replies if parent else ch.messages).remove(msg)
        del self._by_ts[(ch.id, msg.ts)]
        return {"channel": ch.id, "ts": msg.ts}

    @api("chat.postEphemeral")
    def _api_chat_postEphemeral(self, p: dict) -> dict:
        ch = self._channel(p)
        user = p.get("user")
        if not user:
            raise SlackApiFault("user_not_found")
        if ch.members and user not in ch.members:
            raise SlackApiFault("user_not_in_channel")
        if not p.get("text") and not p.get("blocks") and not p.get("attachments"):
            raise SlackApiFault("no_text")
        self._check_message_blocks(p)
        answer: dict = {}
        eph = Ephemeral(channel=ch.id, user=user, text=self._clip_text(p, answer),
                        blocks=assign_ids(p.get("blocks")), source="chat.postEphemeral",
                        ts=self._next_ts(), thread_ts=p.get("thread_ts"))
        self._ephemerals.append(eph)
        answer["message_ts"] = eph.ts
        return answer

    @api("chat.getPermalink")
    def _api_chat_getPermalink(self, p: dict) -> dict:
        ch = self._channel(p, allow_archived=True)
        msg = self._find(ch.id, p.get("message_ts"))
        if msg is None:
            raise SlackApiFault("message_not_found")
        link = f"https://fake.slack.test/archives/{ch.id}/p{msg.ts.replace('.', '')}"
        if msg.is_reply:
            link += f"?thread_ts={msg.thread_ts}&cid={ch.id}"
        return {"channel": ch.id, "permalink": link}

    @api("reactions.add")
    def _api_reactions_add(self, p: dict) -> dict:
        ch = self._channel(p)
        msg = self._find(ch.id, p.get("timestamp"))
        if msg is None:
            raise SlackApiFault("message_not_found")
        users = msg.reactions.setdefault(p.get("name") or "", [])
        if self.bot_user_id in users:
            raise SlackApiFault("already_reacted")
        users.append(self.bot_user_id)
        return {}

    # -- conversations -------------------------------------------------------
    @api("conversations.join")
    def _api_conversations_join(self, p: dict) -> dict:
        ch = self._channel(p)
        if ch.is_private or ch.is_im:
            raise SlackApiFault("method_not_supported_for_channel_type")
        answer: dict = {"channel": None}
        if ch.bot_member:
            answer["warning"] = "already_in_channel"
        ch.bot_member = True
        ch.members.add(self.bot_user_id)
        answer["channel"] = ch.to_api()
        return answer

    @api("conversations.info")
    def _api_conversations_info(self, p: dict) -> dict:
        return {"channel": self._channel(p, allow_archived=True).to_api()}

    @api("conversations.open")
    def _api_conversations_open(self, p: dict) -> dict:
        users = [u for u in str(p.get("users") or "").split(",") if u]
        if len(users) != 1:
            raise SlackApiFault("users_list_not_supplied" if not users else "not_implemented")
        return {"channel": {"id": self._open_dm(users[0]).id}}

    @staticmethod
    def _page(items: list, p: dict) -> dict:
        try:
            start = int(p.get("cursor") or 0)
            limit = int(p.get("limit") or 100) or 100
        except ValueError:
            raise SlackApiFault("invalid_cursor")
        page = items[start:start + limit]
        more = start + limit < len(items)
        return {"messages": page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    @staticmethod
    def _in_window(ts: str, p: dict) -> bool:
        inclusive = truthy(p.get("inclusive"))
        oldest, latest = p.get("oldest"), p.get("latest")
        t = float(ts)
        if oldest and (t < float(oldest) or (t == float(oldest) and not inclusive)):
            return False
        if latest and (t > float(latest) or (t == float(latest) and not inclusive)):
            return False
        return True

    @api("conversations.history")
    def _api_conversations_history(self, p: dict) -> dict:
        ch = self._channel(p, allow_archived=True)
        with_meta = truthy(p.get("include_all_metadata"))
        roots = [m.to_api(include_metadata=with_meta) for m in reversed(ch.messages)
                 if self._in_window(m.ts, p)]
        return self._page(roots, p)

    @api("conversations.replies")
    def _api_conversations_replies(self, p: dict) -> dict:
        ch = self._channel(p, allow_archived=True)
        msg = self._find(ch.id, p.get("ts"))
        if msg is None:
            raise SlackApiFault("thread_not_found")
        root = self._find(ch.id, msg.thread_ts) if msg.is_reply else msg
        with_meta = truthy(p.get("include_all_metadata"))
        thread = [root] + [r for r in root.replies if self._in_window(r.ts, p)]
        return self._page([m.to_api(include_metadata=with_meta) for m in thread], p)

    # -- views ---------------------------------------------------------------
    def _use_trigger(self, trigger_id: Optional[str]) -> Optional[str]:
        entry = self._triggers.get(trigger_id or "")
        if entry is None:
            raise SlackApiFault("invalid_trigger_id")
        if entry["used"] or time.monotonic() - entry["issued"] > self.trigger_ttl:
            raise SlackApiFault("expired_trigger_id")
        entry["used"] = True
        return entry["user"]

    def _new_view(self, user: Optional[str], view: dict, previous: Optional[StoredView]) -> StoredView:
        sv = StoredView(id=self._next_id("V"), user=user, view=copy.deepcopy(view),
                        hash=self._next_id("h"), team_id=self.team_id,
                        external_id=view.get("external_id"))
        sv.view["blocks"] = assign_ids(view.get("blocks"))
        sv.root_view_id = previous.root_view_id if previous else sv.id
        sv.previous_view_id = previous.id if previous else None
        self._views[sv.id] = sv
        return sv

    def _open_stack(self, user: Optional[str]) -> list[StoredView]:
        return [v for v in self._views.values() if v.user == user and not v.closed
                and v.type == "modal"]

    @api("views.open")
    def _api_views_open(self, p: dict) -> dict:
        view = self._check_view(p.get("view"), "modal")
        user = self._use_trigger(p.get("trigger_id"))
        for old in self._open_stack(user):  # a new modal replaces whatever the user had open
            old.closed = True
        return {"view": self._new_view(user, view, None).to_api()}

    @api("views.push")
    def _api_views_push(self, p: dict) -> dict:
        view = self._check_view(p.get("view"), "modal")
        user = self._use_trigger(p.get("trigger_id"))
        stack = self._open_stack(user)
        if len(stack) >= 3:
            raise SlackApiFault("push_limit_reached")
        return {"view": self._new_view(user, view, stack[-1] if stack else None).to_api()}

    @api("views.update")
    def _api_views_update(self, p: dict) -> dict:
        view = self._check_view(p.get("view"))
        if p.get("view_id"):
            sv = self._views.get(p["view_id"])
        else:
            sv = next((v for v in self._views.values()
                       if p.get("external_id") and v.external_id == p.get("external_id")), None)
        if sv is None:
            raise SlackApiFault("not_found")
        if p.get("hash") and p["hash"] != sv.hash:
            raise SlackApiFault("hash_conflict")
        sv.view = copy.deepcopy(view)
        sv.view["blocks"] = assign_ids(view.get("blocks"))
        sv.hash = self._next_id("h")
        sv.updates += 1
        return {"view": sv.to_api()}

    @api("views.publish")
    def _api_views_publish(self, p: dict) -> dict:
        view = self._check_view(p.get("view"), "home")
        user = p.get("user_id")
        if not user:
            raise SlackApiFault("invalid_arguments")
        sv = self._homes.get(user)
        if sv is not None and p.get("hash") and p["hash"] != sv.hash:
            raise SlackApiFault("hash_conflict")
        if sv is None:
            sv = self._homes[user] = self._new_view(user, view, None)
        sv.view = copy.deepcopy(view)
        sv.view["blocks"] = assign_ids(view.get("blocks"))
        sv.hash = self._next_id("h")
        return {"view": sv.to_api()}
