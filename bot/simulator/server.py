"""FakeSlack: a stateful stand-in for Slack's Web API over real HTTP.

The bot talks to it through an ordinary ``slack_sdk.WebClient(base_url=sim.url)``
so retries, headers and body encodings are exercised exactly as in production.
Web API methods live in ``methods.py``, fault injection in ``faults.py`` and
the inspection helpers tests use in ``queries.py``.
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import itertools
import json
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl, urlsplit

from .blocks import assign_ids, validate_blocks
from .faults import FaultPlan, LateAnswer
from .files import UPLOAD_PATH, FileMethods, answer_upload
from .methods import API_METHODS, WebApiMethods
from .usergroups import UsergroupMethods
from .models import Call, Channel, Ephemeral, Message, ResponseUrl, SlackApiFault
from .socket_mode import FakeSocketMode
from .queries import Queries

JSON_PARAMS = ("blocks", "attachments", "metadata", "view")  # JSON strings inside form bodies
RESPONSE_URL_USES = 5  # Slack accepts 5 posts per response_url


class _Server(ThreadingHTTPServer):
    # the default backlog of 5 drops connections when many senders connect at once
    request_queue_size = 128
    daemon_threads = True


class FakeSlack(WebApiMethods, FileMethods, UsergroupMethods, Queries):
    def __init__(self, token: str = "xoxb-test", bot_user_id: str = "UBOT",
                 team_id: str = "T0TEST", *, bot_id: str = "B0BOT", trigger_ttl: float = 3.0,
                 app_token: str = "xapp-1-A0FAKEAPP-1-fake"):
        self.token, self.bot_user_id, self.team_id, self.bot_id = token, bot_user_id, team_id, bot_id
        # the app-level token apps.connections.open accepts, and its scopes
        self.app_token, self.app_token_scopes = app_token, {"connections:write"}
        self.socket_mode: Optional[FakeSocketMode] = None
        self.trigger_ttl = trigger_ttl  # seconds a trigger_id stays usable (Slack: 3)
        self.lock = threading.RLock()
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, dict] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.calls: list[Call] = []
        self.faults = FaultPlan()
        self._by_ts: dict[tuple, Message] = {}
        self._views: dict = {}
        self._homes: dict = {}
        self._ephemerals: list[Ephemeral] = []
        self._response_urls: dict[str, ResponseUrl] = {}
        self._triggers: dict[str, dict] = {}
        self._custom: dict[str, Callable[[dict], dict]] = {}
        self._files: dict = {}  # file id -> files.StoredFile
        self._uploads: dict = {}  # upload URL key -> files.StoredFile, until its one upload
        self._ids = itertools.count(1)
        self._last_ts = 0
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> "FakeSlack":
        self._server = _Server(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        # Short poll interval: stop() (shutdown) waits up to one interval.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="fake-slack", daemon=True)
        self._thread.start()
        return self

    def enable_socket_mode(self) -> FakeSocketMode:
        """Start the Socket Mode server whose URLs apps.connections.open hands out."""
        if self.socket_mode is None:
            self.socket_mode = FakeSocketMode().start()
        return self.socket_mode

    def stop(self) -> None:
        if self.socket_mode is not None:
            self.socket_mode.stop()
            self.socket_mode = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeSlack":
        return self.start() if self._server is None else self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started; call .start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """Base URL for WebClient(base_url=...); keeps Slack's trailing slash."""
        return self.root_url + "/api/"

    # -- ids -------------------------------------------------------------------
    def _next_ts(self) -> str:
        # Wall-clock based, strictly increasing by at least one microsecond.
        micros = max(int(time.time() * 1_000_000), self._last_ts + 1)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):07d}"

    # -- setting the scene -----------------------------------------------------
    def add_channel(self, channel_id: str, name: str, *, bot_member: bool = True,
                    archived: bool = False, members: Any = (), is_private: bool = False) -> Channel:
        """Create a channel. ``members`` (user ids), when given, limit who may
        receive chat.postEphemeral there (others: user_not_in_channel)."""
        with self.lock:
            ch = Channel(channel_id, name, bot_member=bot_member, archived=archived,
                         members=set(members), is_private=is_private)
            if bot_member and ch.members:
                ch.members.add(self.bot_user_id)
            self.channels[channel_id] = ch
            return ch

    def set_archived(self, channel_id: str, archived: bool = True) -> None:
        with self.lock:
            self.channels[channel_id].archived = archived

    def add_user(self, user_id: str, **profile: Any) -> dict:
        """Register a user for users.info (name, real_name, tz, is_bot, email,
        deleted). Unregistered ids get a default person in Europe/Berlin."""
        with self.lock:
            self.users[user_id] = self.make_user(user_id, **profile)
            return self.users[user_id]

    def post_as_user(self, user: str, channel: str, text: str, *,
                     thread_ts: Optional[str] = None, blocks: Optional[list] = None) -> str:
        """A person posts a message (root, or a reply when thread_ts); returns its ts."""
        with self.lock:
            ch = self.channels.get(self._cid(channel))
            if ch is None and channel.startswith("D"):
                ch = self._open_dm(channel[1:])
            if ch is None:
                raise KeyError(f"no channel {channel}; add_channel() it first")
            parent = self._thread_parent(ch, thread_ts)
            msg = Message(channel=ch.id, ts=self._next_ts(), user=user, text=text,
                          blocks=assign_ids(blocks), thread_ts=parent.ts if parent else None,
                          extra={"team": self.team_id})
            return self._store(ch, msg).ts

    def new_trigger_id(self, user: Optional[str] = None) -> str:
        """A trigger_id as Slack puts in interaction payloads: one use, trigger_ttl seconds."""
        with self.lock:
            trigger = f"{next(self._ids)}.{int(time.time())}.{uuid.uuid4().hex[:16]}"
            self._triggers[trigger] = {"issued": time.monotonic(), "user": user, "used": False}
            return trigger

    def new_response_url(self, channel: Optional[str] = None, user: Optional[str] = None,
                         message_ts: Optional[str] = None) -> str:
        """A response_url bound to where the interaction happened (message_ts: the
        message a button was on, so replace_original/delete_original work)."""
        with self.lock:
            rid = uuid.uuid4().hex[:12]
            url = f"{self.root_url}/response/{rid}"
            self._response_urls[rid] = ResponseUrl(rid, url, channel, user, message_ts)
            return url

    def add_method(self, name: str, handler: Callable[[dict], dict]) -> None:
        """Serve an extra Web API method: handler(params) -> answer dict (``ok``
        is added) or raise SlackApiFault. Called with the state lock held."""
        self._custom[name] = handler

    # -- fault injection -------------------------------------------------------
    def fail_next(self, method: str, error: str = "internal_error", count: int = 1) -> None:
        """The next `count` calls of `method` answer HTTP 200 {"ok": false, "error": error}."""
        with self.lock:
            self.faults.add_api_error(method, error, count)

    def fail_http(self, method: Optional[str] = None, status: int = 500, count: int = 1) -> None:
        """The next `count` calls of `method` (None: any) answer with HTTP `status`."""
        with self.lock:
            self.faults.add_http_error(method, status, count)

    def throttle_next(self, method: str, retry_after: int = 2, count: int = 1) -> None:
        """The next `count` calls of `method` answer 429 with Retry-After: retry_after."""
        with self.lock:
            self.faults.add_http_error(method, 429, count, {"Retry-After": str(int(retry_after))})

    def outage(self, status: int = 500, seconds: float = 1.0, exclude: tuple = ()) -> None:
        """Every Web API call (auth.test too, unless in `exclude`) answers HTTP
        `status` for `seconds`. response_url posts are not affected."""
        with self.lock:
            self.faults.set_outage(status, seconds, exclude)

    def rate_limit_channel(self, per_second: Optional[float] = 1.0, burst: int = 1) -> None:
        """Pace chat.postMessage per channel (token bucket); over it: 429 + Retry-After
        (whole seconds, at least 1). per_second=None switches pacing off."""
        with self.lock:
            self.faults.set_rate_limit(per_second, burst)

    def answer_late(self, method: str, seconds: float, count: int = 1,
                    channel: Optional[str] = None, after: int = 0) -> LateAnswer:
        """The next `count` successful calls of `method` (in `channel`, or to that user's
        Home), after `after` answered on time, take effect at once and are answered
        `seconds` later: the window in which a caller that dies has done something it
        never heard about. Wait on the returned `.took_effect` to act inside it."""
        late = LateAnswer(method, seconds, count, channel, after)
        with self.lock:
            self.faults.add_late_answer(late)
        return late

    def latency(self, seconds: float) -> None:
        """Delay every answer by `seconds` (0 to stop)."""
        self.faults.latency = seconds

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    # -- request handling --------------------------------------------------------
    def _answer_api(self, method: str, params: dict, auth: str) -> tuple[int, dict, dict]:
        with self.lock:
            try:
                fault = self.faults.before_auth(method)
                if fault:
                    raise fault
                token = auth[7:] if auth.startswith("Bearer ") else params.get("token")
                if method == "apps.connections.open":
                    self._check_app_token(token)
                elif token != self.token:
                    raise SlackApiFault("not_authed" if not token else "invalid_auth")
                if method not in API_METHODS and method not in self._custom:
                    raise SlackApiFault("unknown_method")
                fault = self.faults.after_auth(method, params)
                if fault:
                    raise fault
                handler = self._custom.get(method) or getattr(self, API_METHODS[method])
                body = {"ok": True, **handler(params)}
                return 200, body, {}
            except SlackApiFault as fault:
                return fault.status, {"ok": False, "error": fault.error, **fault.extra}, fault.headers
            except Exception as exc:  # a bug in the fake (or a custom method): make it loud
                traceback.print_exc()
                return 500, {"ok": False, "error": "fake_slack_crashed", "detail": repr(exc)}, {}

    def _answer_response_url(self, rid: str, payload: Any) -> tuple[int, dict, dict]:
        with self.lock:
            ru = self._response_urls.get(rid)
            if ru is None or len(ru.posts) >= RESPONSE_URL_USES:
                return 404, {"ok": False, "error": "used_url" if ru else "no_active_hooks"}, {}
            if not isinstance(payload, dict):
                return 400, {"ok": False, "error": "invalid_payload"}, {}
            errors = validate_blocks(payload.get("blocks"))
            if errors:
                return 200, {"ok": False, "error": "invalid_blocks", "errors": errors}, {}
            ru.posts.append(copy.deepcopy(payload))
            self._apply_response(ru, payload)
            return 200, {"ok": True}, {}

    def _apply_response(self, ru: ResponseUrl, payload: dict) -> None:
        # What Slack shows after a response_url post.
        original = self._find(ru.channel or "", ru.message_ts)
        eph = next((e for e in self._ephemerals if ru.message_ts and e.ts == ru.message_ts), None)
        text, blocks = payload.get("text") or "", assign_ids(payload.get("blocks"))
        if truthy_flag(payload.get("delete_original")):
            if original is not None:
                self._api_chat_delete({"channel": original.channel, "ts": original.ts})
            elif eph is not None:
                self._ephemerals.remove(eph)
        elif truthy_flag(payload.get("replace_original")) and (original or eph):
            target = original or eph
            target.text, target.blocks = text, blocks
            if original is not None:
                original.edited = True
        elif payload.get("response_type") == "in_channel" and ru.channel in self.channels:
            ch = self.channels[ru.channel]
            parent = self._find(ch.id, payload.get("thread_ts"))
            self._store(ch, Message(channel=ch.id, ts=self._next_ts(), user=self.bot_user_id,
                                    text=text, blocks=blocks, bot_id=self.bot_id,
                                    extra={"team": self.team_id},
                                    thread_ts=parent.ts if parent else None))
        else:
            self._ephemerals.append(Ephemeral(
                channel=ru.channel, user=ru.user, text=text, blocks=blocks, source="response_url",
                ts=self._next_ts(), thread_ts=payload.get("thread_ts"), response_url_id=ru.id))

    def _record(self, method: str, params: dict, status: int) -> None:
        with self.lock:
            self.calls.append(Call(method, params, time.monotonic(), status))


def truthy_flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _decode_params(handler: BaseHTTPRequestHandler, raw: bytes) -> Any:
    """Params from the query string plus a form, multipart or JSON body."""
    params: dict[str, Any] = dict(parse_qsl(urlsplit(handler.path).query))
    ctype = handler.headers.get("Content-Type", "")
    if "json" in ctype:
        body = json.loads(raw or b"{}")
        if not isinstance(body, dict):
            return body
        params.update(body)
    elif "multipart/form-data" in ctype:
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
        for part in msg.iter_parts():
            params[part.get_param("name", header="content-disposition")] = \
                part.get_payload(decode=True).decode("utf-8")
    else:
        params.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    for key in JSON_PARAMS:
        value = params.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            try:
                params[key] = json.loads(value)
            except ValueError:
                pass  # left as a string; validation reports it
    return params


def _make_handler(sim: FakeSlack) -> type:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlsplit(self.path).path
            if path.startswith(UPLOAD_PATH):
                answer_upload(sim, self, path[len(UPLOAD_PATH):], raw)
                return
            late = None
            try:
                params = _decode_params(self, raw)
            except (ValueError, UnicodeDecodeError):
                params = None
            if path.startswith("/api/"):
                method = path[len("/api/"):]
                if not isinstance(params, dict):
                    status, body, headers = 200, {"ok": False, "error": "invalid_json"}, {}
                else:
                    status, body, headers = sim._answer_api(
                        method, params, self.headers.get("Authorization", ""))
                    with sim.lock:
                        late = sim.faults.take_late(method, params) if body.get("ok") else None
                    if late is not None:
                        sim._record(method, params, status)  # it happened, answered or not
                        late.took_effect.set()
                        time.sleep(late.seconds)
                        late.answered += 1
            elif path.startswith("/response/"):
                method = "response_url"
                status, body, headers = sim._answer_response_url(path[len("/response/"):], params)
            else:
                method, status, body, headers = path, 404, {"ok": False, "error": "not_found"}, {}
            if sim.faults.latency:
                time.sleep(sim.faults.latency)
            if late is None:
                sim._record(method, params if isinstance(params, dict) else {"_raw": raw}, status)
            data = json.dumps(body).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the caller is gone (killed while it waited): nothing to answer

        do_GET = do_POST

    return Handler
