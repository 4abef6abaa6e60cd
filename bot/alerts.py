"""The alert ledger: every reminder, warning, breach, ping, digest and overflow notice
has one unique key, written in the same transaction as its outbox row."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import Alert, utcnow


def alert_key(ticket_id: int | None, kind: str, level: str | None, threshold: str, cycle: int) -> str:
    return f"{ticket_id or '-'}:{kind}:{level or '-'}:{threshold}:{cycle}"


def record_once(session: Session, *, kind: str, ticket_id: int | None = None, level: str | None = None,
                threshold: str = "", cycle: int = 0) -> bool:
    """Claim the ledger key; False when it was claimed before (here or by another process)."""
    key = alert_key(ticket_id, kind, level, threshold, cycle)
    try:
        with session.begin_nested():
            session.add(Alert(key=key, ticket_id=ticket_id, kind=kind, level=level, threshold=threshold,
                              cycle=cycle, created_at=utcnow()))
        return True
    except IntegrityError:
        return False
