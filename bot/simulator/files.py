"""Slack's external file upload, as the fake serves it.

Three steps, as in Slack (and slack_sdk's ``files_upload_v2``):

1. ``files.getUploadURLExternal(filename, length)`` → ``upload_url``, ``file_id``;
2. the bytes POSTed to ``upload_url`` (raw or multipart) → HTTP 200 ``OK - <length>``;
3. ``files.completeUploadExternal(files=[{id, title}], channel_id, thread_ts,
   initial_comment)`` shares them, as one message, in a channel or a thread.

Like Slack: an upload URL takes one upload of the announced length; a file never
completed is never shown (``files.info``: ``file_not_found``); completing can be done
once per file (Slack: "This method can only be called once"; again, the fake answers
``file_not_found``, the code Slack gives for a file it no longer holds as an upload).
Mixed into ``FakeSlack``; the caller holds the state lock.
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

from .blocks import assign_ids
from .methods import api
from .models import Message, SlackApiFault

UPLOAD_PATH = "/upload/v1/"
UPLOAD_METHOD = "upload"  # the name upload POSTs are recorded (and faulted) under
MAX_ALT_TEXT = 1000


@dataclass
class StoredFile:
    """An uploaded file: announced, its bytes received, completed (shared)."""

    id: str
    name: str
    length: int
    upload_key: str
    alt_txt: str = ""
    title: str = ""
    data: Optional[bytes] = None
    completed: bool = False
    # channel -> [{"ts", "thread_ts"}]: where it was shared
    shares: dict = field(default_factory=dict)

    @property
    def mimetype(self) -> str:
        return {"png": "image/png", "jpg": "image/jpeg", "txt": "text/plain"}.get(self.filetype,
                                                                                 "application/octet-stream")

    @property
    def filetype(self) -> str:
        return self.name.rsplit(".", 1)[-1].lower() if "." in self.name else "binary"

    def to_api(self, channels: dict) -> dict:
        public = {c: copy.deepcopy(s) for c, s in self.shares.items() if not channels[c].is_private}
        private = {c: copy.deepcopy(s) for c, s in self.shares.items() if channels[c].is_private}
        out: dict[str, Any] = {
            "id": self.id, "name": self.name, "title": self.title or self.name, "mimetype": self.mimetype,
            "filetype": self.filetype, "size": len(self.data or b""), "alt_txt": self.alt_txt,
            "is_external": False, "url_private": f"https://files.fake.slack.test/files-pri/{self.id}/{self.name}",
            "channels": sorted(public), "groups": sorted(private), "ims": [],
            "shares": {key: value for key, value in (("public", public), ("private", private)) if value},
        }
        return out


class FileMethods:
    # Attributes provided by FakeSlack: root_url, channels, bot_user_id, bot_id, team_id,
    # _files, _uploads, _next_ts(), _next_id(), _channel(), _thread_parent(), _store().

    @api("files.getUploadURLExternal")
    def _api_files_getUploadURLExternal(self, p: dict) -> dict:
        filename = p.get("filename")
        if not filename or not isinstance(filename, str):
            raise SlackApiFault("invalid_arguments", extra={
                "response_metadata": {"messages": ["[ERROR] missing required field: filename"]}})
        raw_length = p.get("length")
        try:
            length = int(raw_length)
        except (TypeError, ValueError):
            if raw_length in (None, ""):
                raise SlackApiFault("missing_argument") from None
            raise SlackApiFault("invalid_arguments", extra={
                "response_metadata": {"messages": ["[ERROR] length must be an integer"]}}) from None
        if length <= 0:
            raise SlackApiFault("missing_argument")  # Slack: "typically when length is 0"
        alt_txt = p.get("alt_txt") or ""
        if len(alt_txt) > MAX_ALT_TEXT:
            raise SlackApiFault("alt_txt_too_large")
        stored = StoredFile(id=self._next_id("F"), name=filename, length=length, upload_key=uuid.uuid4().hex,
                            alt_txt=alt_txt)
        self._files[stored.id] = stored
        self._uploads[stored.upload_key] = stored
        return {"upload_url": f"{self.root_url}{UPLOAD_PATH}{stored.upload_key}", "file_id": stored.id}

    def _receive_upload(self, key: str, content_type: str, raw: bytes) -> tuple[int, str]:
        """The POST to an upload URL: (HTTP status, body). One upload per URL."""
        stored = self._uploads.pop(key, None)
        if stored is None:
            return 404, "Not Found"
        data = _file_part(content_type, raw)
        if len(data) != stored.length:  # the URL was issued for `length` bytes
            return 400, f"Bad Request - expected {stored.length} bytes, got {len(data)}"
        stored.data = data
        return 200, f"OK - {len(data)}"

    @api("files.completeUploadExternal")
    def _api_files_completeUploadExternal(self, p: dict) -> dict:
        wanted = p.get("files")
        if isinstance(wanted, str):
            try:
                wanted = json.loads(wanted)
            except ValueError:
                wanted = None
        if not isinstance(wanted, list) or not wanted or not all(
                isinstance(item, dict) and isinstance(item.get("id"), str) for item in wanted):
            raise SlackApiFault("invalid_arguments", extra={
                "response_metadata": {"messages": ["[ERROR] files must be a JSON array of {id, title}"]}})
        found: list[StoredFile] = []
        for item in wanted:
            stored = self._files.get(item["id"])
            if stored is None or stored.data is None or stored.completed:
                raise SlackApiFault("file_not_found")
            found.append(stored)
        channel_ids = [c for c in str(p.get("channels") or "").split(",") if c]
        if p.get("channel_id"):
            channel_ids = [p["channel_id"]]
        if p.get("thread_ts") and len(channel_ids) != 1:
            raise SlackApiFault("invalid_arguments", extra={
                "response_metadata": {"messages": ["[ERROR] thread_ts needs exactly one channel"]}})
        targets = [self._channel({"channel": c}, need_member=True) for c in channel_ids]
        parent = self._thread_parent(targets[0], p.get("thread_ts")) if targets else None
        blocks = None if p.get("initial_comment") else p.get("blocks")
        if blocks:
            self._check_message_blocks({"blocks": blocks})
        for stored, item in zip(found, wanted):
            stored.completed = True
            stored.title = str(item.get("title") or stored.name)
        for ch in targets:
            ts = self._next_ts()
            self._store(ch, Message(
                channel=ch.id, ts=ts, user=self.bot_user_id, text=str(p.get("initial_comment") or ""),
                blocks=assign_ids(blocks), thread_ts=parent.ts if parent else None, bot_id=self.bot_id,
                files=[stored.to_api(self.channels) for stored in found], extra={"team": self.team_id}))
            for stored in found:
                share = {"ts": ts, "channel_name": ch.name, "team_id": self.team_id}
                if parent:
                    share["thread_ts"] = parent.ts
                stored.shares.setdefault(ch.id, []).append(share)
        return {"files": [{"id": stored.id, "title": stored.title} for stored in found]}

    @api("files.info")
    def _api_files_info(self, p: dict) -> dict:
        stored = self._files.get(p.get("file") or "")
        if stored is None or not stored.completed:
            raise SlackApiFault("file_not_found")
        return {"file": stored.to_api(self.channels), "comments": [], "response_metadata": {"next_cursor": ""}}

    # -- what tests ask -----------------------------------------------------------
    def shared_files(self, channel: Optional[str] = None) -> list[StoredFile]:
        """Files completed and shared (in `channel`, by id or #name), in upload order."""
        with self.lock:
            cid = self._cid(channel)
            return [f for f in self._files.values() if f.completed and (cid is None or cid in f.shares)]

    def uploads_started(self) -> list[StoredFile]:
        """Every file an upload URL was asked for, completed or not."""
        with self.lock:
            return list(self._files.values())


def answer_upload(sim, handler, key: str, raw: bytes) -> None:
    """An upload URL's request (not under /api/: no token, a plain-text answer, as
    Slack's file servers). Faults: ``sim.fail_http("upload", 500)``."""
    with sim.lock:
        fault = sim.faults.before_auth(UPLOAD_METHOD)
        if fault is not None:
            status, text = fault.status if fault.status != 200 else 500, fault.error
        elif handler.command != "POST":
            status, text = 405, "Method Not Allowed"
        else:
            status, text = sim._receive_upload(key, handler.headers.get("Content-Type", ""), raw)
    sim._record(UPLOAD_METHOD, {"key": key, "bytes": len(raw)}, status)
    data = text.encode("utf-8")
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "text/plain; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the caller is gone (killed while it waited)


def _file_part(content_type: str, raw: bytes) -> bytes:
    """The file's bytes: the body itself, or the file part of a multipart form."""
    if "multipart/form-data" not in content_type:
        return raw
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    for part in message.iter_parts():
        if part.get_filename() is not None or part.get_param("name", header="content-disposition") == "file":
            return part.get_payload(decode=True) or b""
    return b""
