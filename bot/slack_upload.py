"""Sharing files through the outbox: Slack's three upload steps, each recorded.

For every file of the row: files.getUploadURLExternal (its file id and URL are written
down), the bytes POSTed to that URL (the upload is written down); then one
files.completeUploadExternal shares them all as one message. What is written down is
where a retry, or a process taking the row over, goes on from:

- a file whose bytes were not recorded as sent gets a new URL (Slack drops a file that
  is never completed, so an upload lost halfway is never seen);
- files recorded as sent are completed as they are;
- when all were sent, a retry first asks Slack (files.info) whether the first file is
  already shared where it belongs (a process that died after completing, before
  recording it): then nothing is shared again.

Upload URLs are never logged: whoever holds one may upload to it.
"""
from __future__ import annotations

import logging
import urllib.request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.db import transaction
from bot.models import PENDING, OutboxFile, OutboxMessage, utcnow
from bot.slack_errors import classify
from bot.slack_send import Job, NotOurs

log = logging.getLogger("escalator.delivery")

GONE = "file_not_found"  # Slack no longer holds the upload (expired, or completed already)


class FileUploads:
    """check(job) raises NotOurs when the row may no longer be sent by this process."""

    def __init__(self, sessions: sessionmaker[Session], client: WebClient, worker_id: str, check):
        self.sessions = sessions
        self.client = client
        self.worker_id = worker_id
        self.check = check

    def share(self, job: Job) -> dict:
        files = self._files(job.row_id)
        if job.attempts > 1 and all(f.uploaded_at for f in files):
            shared = self._shared_earlier(job, files[0])
            if shared:
                log.info("outbox: the files of row %s were already shared (ts %s); not sharing again",
                         job.row_id, shared)
                return {"found_earlier": True}
        try:
            return self._upload_and_complete(job, files)
        except SlackApiError as exc:
            if exc.response.get("error") != GONE:
                raise
            if self._shared_earlier(job, files[0]):
                return {"found_earlier": True}
        log.warning("outbox: Slack no longer holds the uploads of row %s; uploading them again", job.row_id)
        for stored in files:
            self._record(job, stored, file_id=None, upload_url=None, uploaded_at=None)
            stored.uploaded_at = None
        return self._upload_and_complete(job, files)

    def _upload_and_complete(self, job: Job, files: list[OutboxFile]) -> dict:
        for stored in files:
            if stored.uploaded_at is None:
                self._upload(job, stored)
        self.check(job)
        self.client.files_completeUploadExternal(
            files=[{"id": f.file_id, "title": f.title} for f in files], channel_id=job.channel,
            thread_ts=job.thread_ts, initial_comment=job.payload.get("initial_comment") or None)
        return {}

    def _upload(self, job: Job, stored: OutboxFile) -> None:
        self.check(job)
        answer = self.client.files_getUploadURLExternal(filename=stored.filename, length=len(stored.content),
                                                        alt_txt=stored.alt_text or None)
        stored.file_id, stored.upload_url = answer["file_id"], answer["upload_url"]
        self._record(job, stored, file_id=stored.file_id, upload_url=stored.upload_url, uploaded_at=None)
        self.check(job)
        request = urllib.request.Request(stored.upload_url, data=stored.content, method="POST",
                                         headers={"Content-Type": "application/octet-stream"})
        try:
            with urllib.request.urlopen(request, timeout=self.client.timeout, context=self.client.ssl) as answer:
                answer.read()
        except Exception:  # a refused or lost upload: the next attempt asks for a new URL
            self._record(job, stored, file_id=None, upload_url=None, uploaded_at=None)
            raise
        stored.uploaded_at = utcnow()
        self._record(job, stored, uploaded_at=stored.uploaded_at)

    def _shared_earlier(self, job: Job, first: OutboxFile) -> str | None:
        """The ts of the message that shared the row's first file where the row shares it."""
        try:
            file = self.client.files_info(file=first.file_id)["file"]
        except SlackApiError as exc:
            failure = classify(exc)
            if failure.kind.retryable:
                raise
            if exc.response.get("error") != GONE:
                log.warning("outbox: cannot ask Slack whether row %s's files were shared: %s", job.row_id, failure)
            return None
        shares = {**(file.get("shares") or {}).get("public", {}), **(file.get("shares") or {}).get("private", {})}
        for share in reversed(shares.get(job.channel, [])):
            if job.thread_ts is None or share.get("thread_ts") == job.thread_ts:
                return share.get("ts") or "?"
        return None

    def _files(self, row_id: int) -> list[OutboxFile]:
        with self.sessions() as session:
            return list(session.scalars(select(OutboxFile).where(OutboxFile.outbox_id == row_id)
                                        .order_by(OutboxFile.position)))

    def _record(self, job: Job, stored: OutboxFile, **values) -> None:
        """Write down a step, only while the row is still this process's to send."""
        still_ours = exists().where(OutboxMessage.id == job.row_id, OutboxMessage.claimed_by == self.worker_id,
                                    OutboxMessage.status == PENDING)
        with transaction(self.sessions) as session:
            written = session.execute(update(OutboxFile).where(OutboxFile.id == stored.id, still_ours)
                                      .values(**values).execution_options(synchronize_session=False)).rowcount
        if not written:
            raise NotOurs(job.row_id)
