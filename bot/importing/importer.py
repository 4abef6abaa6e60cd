"""`escalator import`: past tickets from a helpdesk export, with the history of a live
ticket (opened, acknowledged, escalated, resolved events) so reports, `simulate` and
`suggest` read them as they read the desk's own, marked imported so nothing posts to
Slack and no sweep or rule acts on them.

The file is streamed and written in batches, one transaction each; a row whose source
id is in the database already is skipped, so importing a file again, or after an
interrupted run, changes nothing twice.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import transaction
from bot.importing.bulk import allocate_ids, insert_rows
from bot.importing.mapping import Mapping
from bot.importing.rows import ImportedTicket, RowError, RowParser
from bot.models import CsatResponse, Ticket, TicketEvent, TicketStatus, utcnow
from bot.policy import Policy
from bot.quality import stays

BATCH = 1000
REQUESTER = "imported"  # stands in for the agent who opened it: the export doesn't name a Slack user


class ImportFileError(Exception):
    """The file as a whole can't be read (missing, or a mapped column isn't in its header)."""


@dataclass
class ImportSummary:
    imported: int = 0
    already: int = 0  # in the database from an earlier import: left as they are
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    dry_run: bool = False

    def lines(self) -> list[str]:
        verb = "would import" if self.dry_run else "imported"
        return [f"line {line}: {why}" for line, why in self.bad] + [
            f"{verb} {self.imported} tickets, {self.already} already imported (left as they are), "
            f"{len(self.bad)} bad rows{' (not imported)' if self.bad else ''}"
            + ("; dry run: nothing was written" if self.dry_run else "")]


class TicketImport:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy, mapping: Mapping):
        self.sessions = sessions
        self.policy = policy
        self.mapping = mapping
        self.parser = RowParser(mapping, policy)

    def run(self, path: str | Path, *, dry_run: bool = False) -> ImportSummary:
        summary = ImportSummary(dry_run=dry_run)
        seen: dict[str, int] = {}  # source id → line, to name a repeated id within the file
        batch: list[ImportedTicket] = []
        for line, row in self._rows(path):
            try:
                ticket = self.parser.parse(row)
            except RowError as error:
                summary.bad.append((line, str(error)))
                continue
            if ticket.source_id in seen:
                summary.bad.append((line, f"id {ticket.source_id.split(':', 1)[1]!r} appears again "
                                          f"(first on line {seen[ticket.source_id]})"))
                continue
            seen[ticket.source_id] = line
            batch.append(ticket)
            if len(batch) >= BATCH:
                self._write(batch, summary, dry_run)
                batch = []
        self._write(batch, summary, dry_run)
        return summary

    def _rows(self, path: str | Path) -> Iterator[tuple[int, dict]]:
        try:
            handle = open(path, newline="", encoding="utf-8-sig")  # Excel's exports start with a BOM
        except OSError as exc:
            raise ImportFileError(f"{path}: cannot read file: {exc.strerror}") from None
        with handle:
            reader = csv.DictReader(handle, delimiter=self.mapping.delimiter)
            header = reader.fieldnames or []
            missing = [f"{column!r} (columns.{fact})" for fact, column in self.mapping.columns.items()
                       if column not in header]
            if missing:
                raise ImportFileError(f"{path}: not in the file's header: {', '.join(missing)}; "
                                      f"the header has {', '.join(repr(h) for h in header) or 'nothing'}")
            line = reader.line_num + 1
            try:
                for row in reader:
                    yield line, row  # the line the row starts on (a quoted field may span lines)
                    line = reader.line_num + 1
            except (csv.Error, UnicodeDecodeError) as exc:
                raise ImportFileError(f"{path}: line {line}: the file can't be read as CSV past here ({exc})") from None

    def _write(self, batch: list[ImportedTicket], summary: ImportSummary, dry_run: bool) -> None:
        if not batch:
            return
        with (self.sessions() if dry_run else transaction(self.sessions)) as session:
            known = set(session.scalars(select(Ticket.source_id).where(
                Ticket.source_id.in_([t.source_id for t in batch]))))
            fresh = [t for t in batch if t.source_id not in known]
            summary.already += len(batch) - len(fresh)
            summary.imported += len(fresh)
            if dry_run or not fresh:
                return
            ids = allocate_ids(session, Ticket.__table__, len(fresh))
            insert_rows(session, Ticket.__table__, [self._ticket_row(t, id) for t, id in zip(fresh, ids)])
            insert_rows(session, TicketEvent.__table__,
                        [event for t, id in zip(fresh, ids) for event in self._events(t, id)])
            stays.rebuild(session.connection(), list(ids))
            insert_rows(session, CsatResponse.__table__,
                        [self._csat_row(t, id) for t, id in zip(fresh, ids) if t.csat is not None])

    def _ticket_row(self, t: ImportedTicket, ticket_id: int) -> dict:
        moved = t.escalated is not None and t.level != t.entry
        return dict(
            id=ticket_id,            summary=t.summary, customer=t.customer, severity=t.severity, impact=t.impact, complexity=t.complexity,
            vip=False, executive_contact=False, asked_for_manager=False, brand_risk=False, asked_again=False,
            revenue_at_risk=t.revenue, steps_taken="", level=t.level,
            status=TicketStatus.RESOLVED if t.resolved else TicketStatus.IMPORTED_OPEN, cycle=2 if moved else 1,
            requester_id=REQUESTER, acknowledged_at=t.acknowledged, root_cause=t.root_cause,
            resolved_at=t.resolved, created_at=t.opened, updated_at=utcnow(), imported=True,
            source_id=t.source_id,
            resolution=f"resolved in {self.mapping.source}" if t.resolved else None,
        )

    @staticmethod
    def _csat_row(t: ImportedTicket, ticket_id: int) -> dict:
        """The score as the survey records one (bot.quality.csat): for the first resolution,
        by the level that resolved it, answered when it was solved (the export has no time)."""
        return dict(ticket_id=ticket_id, resolution=1, level=t.level, score=t.csat, responder_id=REQUESTER,
                    channel="import", answered_at=t.resolved, first_answered_at=t.resolved)

    def _events(self, t: ImportedTicket, ticket_id: int) -> list[dict]:
        """The history a live ticket would have: it opens where its severity enters and
        moves to the mapped level when it was escalated (without an escalation time, it is
        recorded as opened at the mapped level)."""
        moved = t.escalated is not None and t.level != t.entry
        first = t.entry if moved else t.level
        detail = {"imported": self.mapping.source}
        events = [_event(ticket_id, "opened", t.opened, to_level=first, detail={**detail, "entry": t.entry})]
        if t.acknowledged is not None:
            at_level = first if not moved or t.acknowledged < t.escalated else t.level
            events.append(_event(ticket_id, "acknowledged", t.acknowledged, from_level=at_level, detail=detail))
        if moved:
            events.append(_event(ticket_id, "escalated", t.escalated, from_level=first, to_level=t.level,
                                 trigger="imported", reason=f"escalated in {self.mapping.source}", detail=detail))
        if t.resolved is not None:
            events.append(_event(ticket_id, "resolved", t.resolved, from_level=t.level, trigger=t.root_cause,
                                 reason=f"resolved in {self.mapping.source}", detail=detail))
        if t.csat is not None:  # as bot.quality.csat records an answer
            events.append(_event(ticket_id, "csat_answered", t.resolved, detail={
                **detail, "score": t.csat, "resolution": 1, "channel": "import", "replaced": False}))
        events.sort(key=lambda event: event["at"])
        return events


def _event(ticket_id: int, kind: str, at, **fields) -> dict:
    return {"ticket_id": ticket_id, "kind": kind, "actor_id": None, "from_level": None, "to_level": None,
            "trigger": None, "reason": None, "detail": {}, "at": at, **fields}
