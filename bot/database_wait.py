"""`serve` at start: a PostgreSQL that isn't up yet is waited for, as Slack is.

A bot started beside its database (a compose file, a host rebooting, a failover) would
otherwise exit at once and lean on a supervisor's restart loop. Each failed attempt is
logged with the driver's reason and tried again with the same capped backoff as Slack
(bot.socket_mode.backoff). What waiting can't mend stops at once: a password or user the
server refuses, a database that doesn't exist. SQLite is a file: there is nothing to wait for.
"""
from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from bot.socket_mode.backoff import keep_trying

log = logging.getLogger("escalator")

# A server that answered and refused: a setting to fix, not a moment to wait out. libpq
# gives connection failures no SQLSTATE, so they are told by the server's words (English
# unless the server's lc_messages says otherwise; then they are waited for, and logged).
_REFUSALS = ("does not exist",  # the database or the role
             "authentication failed", "no password supplied", "no pg_hba.conf entry")


def first_line(error: OperationalError | InterfaceError) -> str:
    """The driver's own words (no SQL, no parameters: they could hold ticket text)."""
    words = str(error.orig if error.orig is not None else error).strip()
    return words.splitlines()[0] if words else type(error).__name__


def wait_for_database(engine: Engine, *, max_backoff: float = 10.0) -> None:
    if engine.dialect.name != "postgresql":
        return
    refused: list[OperationalError] = []

    def connect() -> None:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except OperationalError as error:
            if not any(refusal in first_line(error) for refusal in _REFUSALS):
                raise
            refused.append(error)  # stop trying, and say why in one line (bot.cli)

    keep_trying(connect, "database not reachable", log, max_backoff, reason_of=_reason)
    if refused:
        raise refused[0]


def _reason(error: Exception) -> str:
    return first_line(error) if isinstance(error, (OperationalError, InterfaceError)) else type(error).__name__
