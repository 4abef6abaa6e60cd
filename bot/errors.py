"""Typed errors raised by the domain; handlers map each to a friendly reply."""
from __future__ import annotations


class EscalatorError(Exception):
    """Base class: the message is safe and meant for the person acting."""


class TicketNotFound(EscalatorError):
    def __init__(self, key: str):
        self.key = key
        super().__init__(f"There is no ticket {key}. Check the key, e.g. `/escalate list`.")


class NotAllowed(EscalatorError):
    """The person isn't one of those who may do this; the message says who may."""


class InvalidInput(EscalatorError):
    """Bad form input: field (block id) → message, shown inline in the modal."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(errors.values()))


class Conflict(EscalatorError):
    """Someone else changed the ticket first; the message says what happened."""


class InvalidCommand(EscalatorError):
    """A command's words can't be carried out as typed; the message says what to type."""
