"""Helpers for the HTTP hardening tests: raw-socket requests (what urllib won't send:
huge announced bodies, chunked streams, slow heads), log capture, database snapshots."""
from __future__ import annotations

import logging
import select
import socket
import time
from contextlib import contextmanager
from urllib.parse import urlsplit

from sqlalchemy import select as sql_select

from bot.models import Base


def database_snapshot(harness) -> dict[str, list[tuple]]:
    """Every row of every table, so a test can say 'nothing changed' and mean it."""
    with harness.runtime.sessions() as session:
        return {table.name: sorted((tuple(map(repr, row)) for row in session.execute(sql_select(table))))
                for table in Base.metadata.sorted_tables}


class RecordedLogs(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def clear(self) -> None:
        self.records.clear()

    def at_least(self, level: int) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno >= level]

    def tracebacks(self) -> list[str]:
        """Records carrying a traceback, or whose text has one."""
        return [r.getMessage() for r in self.records
                if r.exc_info or r.exc_text or r.stack_info or "Traceback" in r.getMessage()]


@contextmanager
def recorded_logs():
    """Everything logged anywhere (the bot, Bolt, uvicorn, Starlette) while the block runs."""
    handler = RecordedLogs()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    uvicorn_loggers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.error")]
    propagate = [logger.propagate for logger in uvicorn_loggers]
    for logger in uvicorn_loggers:
        logger.propagate = True
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        for logger, flag in zip(uvicorn_loggers, propagate):
            logger.propagate = flag


def connect(url: str, timeout: float = 10.0) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=timeout)


def read_status(sock: socket.socket) -> int | None:
    """The status code of the answer on sock, or None if the server closed without one."""
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return None
        data += chunk
    return int(data.split(b" ", 2)[1])


def head(url: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {urlsplit(url).netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def push_body(url: str, path: str, total: int, *, chunked: bool, piece: int = 64 * 1024) -> tuple[int | None, int]:
    """POST `total` bytes (announced with Content-Length, or chunked), stopping early
    when the server answers or hangs up; returns (status, body bytes the server took)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    headers.update({"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(total)})
    with connect(url) as sock:
        sock.sendall(head(url, path, headers))
        sent = 0
        try:
            while sent < total:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break  # the answer came (or the connection closed) before the body was all sent
                size = min(piece, total - sent)
                sock.sendall(f"{size:x}\r\n".encode() + b"a" * size + b"\r\n" if chunked else b"a" * size)
                sent += size
            if sent >= total and chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server hung up on the rest of the body: what it should do
        try:
            return read_status(sock), sent
        except OSError:
            return None, sent


def wait_closed(sock: socket.socket, timeout: float) -> bool:
    """True once the server closed sock (recv gives EOF or a reset) within timeout."""
    deadline = time.monotonic() + timeout
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            if sock.recv(4096) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False
