"""Logging that never prints a secret: Slack tokens and the signing secret are masked.

Plain text by default; `ESCALATOR_LOG_FORMAT=json` writes one JSON object per line
(time, level, logger, message, and the ticket, its level, the event and the Slack
method when the line was written inside a `log_context`). The context lives in a
contextvar, so each request, outbox send and sweep notice carries its own.
"""
from __future__ import annotations

import json
import logging
import re
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

_TOKEN = re.compile(r"\b(xox[abposr]|xapp)-[A-Za-z0-9-]+")

LOG_FORMATS = ("text", "json")
CONTEXT_FIELDS = ("ticket", "ticket_level", "event", "slack_method")
_context: ContextVar[dict | None] = ContextVar("escalator_log_context", default=None)


@contextmanager
def log_context(**fields):
    """Lines logged inside carry these fields (None leaves a field as it was)."""
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def add_log_context(**fields) -> None:
    """Add fields to the innermost log_context (a no-op outside one, so nothing leaks
    into the next request a pooled thread serves)."""
    current = _context.get()
    if current is not None:
        current.update({k: v for k, v in fields.items() if v is not None})


class ContextFields(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_context.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str] | None = None):
        super().__init__()
        self.secrets = [s for s in (secrets or []) if s and len(s) >= 6]

    def redact(self, text: str) -> str:
        text = _TOKEN.sub(lambda m: f"{m.group(1)}-***", text)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None) is not None:
                entry[name] = str(getattr(record, name))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


def log_handler(secrets: list[str], log_format: str = "text", stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if log_format == "json"
                         else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ContextFields())
    handler.addFilter(RedactSecrets(secrets))
    return handler


def configure_logging(secrets: list[str], level: int = logging.INFO, log_format: str = "text") -> None:
    root = logging.getLogger()
    root.handlers[:] = [log_handler(secrets, log_format)]
    root.setLevel(level)
    # slack_sdk logs request headers (the bot token) at DEBUG
    logging.getLogger("slack_sdk").setLevel(max(level, logging.INFO))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
