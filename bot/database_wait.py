"""`serve` at start: a PostgreSQL that isn't up yet is waited for, as Slack is.

A bot started beside its database (a compose file, a host rebooting, a failover) would
otherwise exit at once and lean on a supervisor's restart loop. Each failed attempt is
logged with the driver's reason and tried again with the same capped backoff as Slack
(bot.socket_mode.backoff). What waiting can't mend stops at once: a password or user the
server refuses, a database that doesn't exist. SQLite is a file: there is nothing to wait for.
"""
from __future__ import annotations

import logging
import time

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from bot.socket_mode.backoff import retry_delay

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
    failures = 0
    while True:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return
        except OperationalError as error:
            if any(refusal in first_line(error) for refusal in _REFUSALS):
                raise
            delay = retry_delay(failures, max_backoff)
            failures += 1
            log.warning("database not reachable (%s); next attempt in %.1f s", first_line(error), delay)
            time.sleep(delay)
