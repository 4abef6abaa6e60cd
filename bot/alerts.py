"""The alert ledger: every reminder, warning, breach, ping, digest and overflow notice
has one unique key, written in the same transaction as its outbox row."""
from __future__ import annotations

from sqlalchemy import text
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
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return _claim_many_postgresql(session, list(rows.values()))
    # one statement whatever the count (executemany with RETURNING, "insertmanyvalues"): a
    # VALUES list built from the rows would be compiled anew for each row count
    claimed = session.execute(_claim_sqlite, list(rows.values())).scalars().all()
    return set(claimed)


_claim_sqlite = (sqlite.insert(Alert.__table__).on_conflict_do_nothing(index_elements=["key"])
                 .returning(Alert.__table__.c.key))


_CLAIM_ARRAYS = text("""INSERT INTO alerts (key, ticket_id, kind, level, threshold, cycle, created_at)
    SELECT k, t, kd, l, th, c, :created_at
    FROM unnest(CAST(:keys AS varchar[]), CAST(:tickets AS integer[]), CAST(:kinds AS varchar[]),
                CAST(:levels AS varchar[]), CAST(:thresholds AS varchar[]), CAST(:cycles AS integer[]))
         AS claimed(k, t, kd, l, th, c)
    ON CONFLICT (key) DO NOTHING
    RETURNING key
""")


def _claim_many_postgresql(session: Session, rows: list[dict]) -> set[str]:
    """The same claim with one array per column: a sweep's hundred claims are 7
    parameters, not 700 (the driver's placeholder handling grows with the count)."""
    claimed = session.execute(_CLAIM_ARRAYS, {
        "keys": [r["key"] for r in rows], "tickets": [r["ticket_id"] for r in rows],
        "kinds": [r["kind"] for r in rows], "levels": [r["level"] for r in rows],
        "thresholds": [r["threshold"] for r in rows], "cycles": [r["cycle"] for r in rows],
        "created_at": rows[0]["created_at"].replace(tzinfo=None),  # the column holds naive UTC
    }).scalars().all()
    return set(claimed)
