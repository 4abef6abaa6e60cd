"""The alert ledger: every reminder, warning, breach, ping, digest and overflow notice
has one unique key, written in the same transaction as its outbox row."""
from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.models import Alert, utcnow

_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def alert_key(ticket_id: int | None, kind: str, level: str | None, threshold: str, cycle: int) -> str:
    return f"{ticket_id or '-'}:{kind}:{level or '-'}:{threshold}:{cycle}"


def record_once(session: Session, *, kind: str, ticket_id: int | None = None, level: str | None = None,
                threshold: str = "", cycle: int = 0) -> bool:
    """Claim the ledger key; False when it was claimed before (here or by another process).

    INSERT … ON CONFLICT DO NOTHING: a concurrent claim of the same key waits for the
    other transaction and then reports the conflict, so exactly one claimant wins."""
    key = alert_key(ticket_id, kind, level, threshold, cycle)
    insert = _INSERT[session.get_bind().dialect.name]
    claimed = session.execute(
        insert(Alert)
        .values(key=key, ticket_id=ticket_id, kind=kind, level=level, threshold=threshold, cycle=cycle,
                created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Alert.id)
    ).scalar()
    return claimed is not None


def claim_many(session: Session, claims: list[dict]) -> set[str]:
    """Claim several ledger keys in one statement (claims: record_once's keyword
    arguments); returns the keys claimed now."""
    if not claims:
        return set()
    now = utcnow()
    rows = {}
    for claim in claims:
        key = alert_key(claim.get("ticket_id"), claim["kind"], claim.get("level"), claim.get("threshold", ""),
                        claim.get("cycle", 0))
        rows[key] = dict(key=key, ticket_id=claim.get("ticket_id"), kind=claim["kind"], level=claim.get("level"),
                         threshold=claim.get("threshold", ""), cycle=claim.get("cycle", 0), created_at=now)
    insert = _INSERT[session.get_bind().dialect.name]
    claimed = session.execute(
        insert(Alert).values(list(rows.values())).on_conflict_do_nothing(index_elements=["key"])
        .returning(Alert.key)
    ).scalars().all()
    return set(claimed)
