"""One outbox row to Slack: read what the send needs (rendering lazy payloads from the
state at that moment), let go of the database, make the call.

Every post carries message metadata naming its outbox row; a retried post first looks
for that metadata in the channel (or thread) history, so a post that landed before a
crash isn't made twice (see bot.delivery)."""
from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot import outbox
from bot.db import transaction
from bot.metrics import ALERT_MARK
from bot.models import OutboxMessage, OutboxStatus, SlackMessage
from bot.slack_errors import FailureKind, classify

log = logging.getLogger("escalator.delivery")

METADATA_EVENT = "escalator_outbox"


class RenderFailed(Exception):
    """A payload rendered at send time could not be: a bug, not a Slack failure."""


class NotOurs(Exception):
    """This process lost its liveness lock (or the row) before the call: not sent."""


@dataclass
class Job:
    """One claimed row, as the send needs it."""

    row_id: int
    method: str
    channel: str
    payload: dict
    attempts: int
    created_at: datetime
    thread_ts: str | None
    target_ts: str | None
    link_message_id: int | None
    link_channel: str | None
    link_ts: str | None
    link_permalink: str | None
    alert: dict | None = None  # the SLA alert this row carries (kind, due): for its lateness
    ticket_key: str | None = None  # for the log lines of its send


Renderer = Callable[[Session, dict], dict]


class SlackSender:
    """renderers: payloads recorded as {"render": name, ...} are rendered by
    renderers[name](session, payload) when sent, from the state at that moment."""

    def __init__(self, sessions: sessionmaker[Session], client: WebClient, renderers: dict[str, Renderer],
                 worker_id: str, still_ours: Callable[[int], bool] = lambda row_id: True):
        self.sessions = sessions
        self.client = client
        self.renderers = renderers
        self.worker_id = worker_id
        # asked right before the call, after the history look-up and the permalink fetch
        self.still_ours = still_ours
        from bot.slack_upload import FileUploads  # it builds on this module's Job and NotOurs

        self.uploads = FileUploads(sessions, client, worker_id, self._check)

    def deliver(self, job: Job) -> dict:
        """Make the Slack call of a loaded row; its answer ({"ts": …} for posts)."""
        if job.link_message_id is not None and job.link_permalink is None:
            job.link_permalink = self._fetch_permalink(job)
        return self._send(job)

    def load(self, row_id: int) -> Job | None:
        """Read what the send needs, then let go of the database during the Slack call."""
        with self.sessions() as session:
            row = session.get(OutboxMessage, row_id)
            if row is None or row.status != OutboxStatus.PENDING or row.claimed_by != self.worker_id:
                return None
            link = row.link_message
            payload = dict(row.payload)
            alert = payload.pop(ALERT_MARK, None)  # ours, not Slack's
            if "render" in payload:
                try:
                    payload = self.renderers[payload["render"]](session, payload)
                except Exception as exc:
                    raise RenderFailed(f"could not render {payload['render']}: {type(exc).__name__}") from exc
            return Job(
                row_id=row.id, method=row.method, channel=row.channel, payload=payload,
                attempts=row.attempts, created_at=row.created_at,
                thread_ts=row.thread_message.ts if row.thread_message else None,
                target_ts=row.message.ts if row.message else None,
                link_message_id=link.id if link else None,
                link_channel=link.channel if link else None, link_ts=link.ts if link else None,
                link_permalink=link.permalink if link else None, alert=alert,
                ticket_key=f"ESC-{row.ticket_id}" if row.ticket_id else None,
            )

    def _fetch_permalink(self, job: Job) -> str:
        permalink = self.client.chat_getPermalink(channel=job.link_channel, message_ts=job.link_ts)["permalink"]
        with transaction(self.sessions) as session:
            session.get(SlackMessage, job.link_message_id).permalink = permalink
        return permalink

    def _send(self, job: Job) -> dict:
        payload = job.payload
        if job.link_permalink:
            payload = _replace_in(payload, outbox.LINK_PLACEHOLDER, f"<{job.link_permalink}|")
        else:  # the linked message never made it to Slack: keep the label as text
            payload = _strip_links(payload)
        if job.method == "views.publish":
            self._check(job)
            self.client.views_publish(user_id=job.channel, view=payload["view"])
            return {}
        if job.method == outbox.SHARE_FILES:
            job.payload = payload
            return self.uploads.share(job)
        if job.method == "chat.update":
            payload.pop("unfurl_links", None)
            self._check(job)
            self.client.chat_update(channel=job.channel, ts=job.target_ts, **payload)
            return {}
        if job.attempts > 1:
            found = self._find_earlier_post(job)
            if found:
                log.info("outbox: row %s was already posted (ts %s); not posting again", job.row_id, found)
                return {"ts": found, "thread_ts": job.thread_ts, "found_earlier": True}
        self._check(job)
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"outbox_id": job.row_id}}
        post = functools.partial(self.client.chat_postMessage, channel=job.channel, thread_ts=job.thread_ts,
                                 metadata=metadata, **payload)
        try:
            response = post()
        except Exception as exc:
            if classify(exc).kind is not FailureKind.NOT_IN_CHANNEL:
                raise
            log.warning("outbox: not in channel %s; joining it and retrying", job.channel)
            self.client.conversations_join(channel=job.channel)
            self._check(job)
            response = post()
        return {"ts": response["ts"], "thread_ts": job.thread_ts}

    def _check(self, job: Job) -> None:
        """Another process may take the row over once our lock is gone; what is left is a
        call already on its way when that happens (the history look-up of a retry covers it)."""
        if not self.still_ours(job.row_id):
            raise NotOurs(job.row_id)

    def _find_earlier_post(self, job: Job) -> str | None:
        """Look for a post of this row that landed before a crash (see module doc)."""
        oldest = f"{job.created_at.timestamp() - 60:.6f}"
        try:
            if job.thread_ts:
                answer = self.client.conversations_replies(
                    channel=job.channel, ts=job.thread_ts, oldest=oldest, include_all_metadata=True, limit=200)
            else:
                answer = self.client.conversations_history(
                    channel=job.channel, oldest=oldest, include_all_metadata=True, limit=200)
        except Exception as exc:
            failure = classify(exc)
            if failure.kind.retryable:
                raise
            log.warning("outbox: cannot read history of %s to rule out a duplicate: %s", job.channel, failure)
            return None
        for message in answer.get("messages", []):
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == METADATA_EVENT and \
                    (metadata.get("event_payload") or {}).get("outbox_id") == job.row_id:
                return message["ts"]
        return None


_PLACEHOLDER_LINK = re.compile(re.escape(outbox.LINK_PLACEHOLDER) + r"([^>]*)>")


def _strip_links(value):
    if isinstance(value, str):
        return _PLACEHOLDER_LINK.sub(r"\1", value)
    if isinstance(value, list):
        return [_strip_links(item) for item in value]
    if isinstance(value, dict):
        return {key: _strip_links(item) for key, item in value.items()}
    return value


def _replace_in(value, old: str, new: str):
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_in(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: _replace_in(item, old, new) for key, item in value.items()}
    return value
