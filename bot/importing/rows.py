"""One CSV row of a helpdesk export → the ticket and its history, or the reason the
row can't be imported (RowError), in words that name the column and the value."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from bot.importing.mapping import Mapping
from bot.policy import Policy


class RowError(ValueError):
    pass


@dataclass(frozen=True)
class ImportedTicket:
    source_id: str
    opened: datetime
    summary: str
    customer: str
    severity: str
    impact: str
    complexity: str
    entry: str  # where the severity enters (the policy's entry level)
    level: str  # the level that had it last (the mapped group), entry when not mapped
    escalated: datetime | None
    acknowledged: datetime | None
    resolved: datetime | None
    csat: int | None
    root_cause: str | None
    revenue: Decimal | None


class RowParser:
    def __init__(self, mapping: Mapping, policy: Policy):
        self.mapping = mapping
        self.policy = policy

    def parse(self, raw: dict[str, str | None]) -> ImportedTicket:
        # each mapped cell read and stripped once (this runs for every row of a large export)
        row = {fact: (raw.get(column) or "").strip() for fact, column in self.mapping.columns.items()}
        raw_id = self._cell(row, "id")
        if not raw_id:
            raise RowError(f"no id (column {self.mapping.columns['id']!r} is empty)")
        opened = self._time(row, "opened")
        if opened is None:
            raise RowError(f"no opening time (column {self.mapping.columns['opened']!r} is empty)")
        severity = self._mapped(row, "severity")
        entry = self.policy.severities[severity].entry
        level = self._mapped(row, "level", required=False) or entry
        escalated, acknowledged, resolved = (self._time(row, fact) for fact in ("escalated", "acknowledged",
                                                                                 "resolved"))
        for fact, at in (("escalated", escalated), ("acknowledged", acknowledged), ("resolved", resolved)):
            if at is not None and at < opened:
                raise RowError(f"{fact} ({self._cell(row, fact)}) is before it was opened ({self._cell(row, 'opened')})")
        if escalated is not None and resolved is not None and resolved < escalated:
            raise RowError(f"resolved ({self._cell(row, 'resolved')}) is before it was escalated "
                           f"({self._cell(row, 'escalated')})")
        csat = self._mapped(row, "csat", required=False)
        if csat and resolved is None:
            raise RowError(f"csat {self._cell(row, 'csat')!r} on a ticket that isn't solved (no resolved time): "
                           "a score rates a resolution")
        root_cause = self._mapped(row, "root_cause", required=False)
        summary = self._cell(row, "summary") or f"Imported from {self.mapping.source} ({raw_id})"
        return ImportedTicket(
            source_id=f"{self.mapping.source}:{raw_id}"[:120], opened=opened, summary=summary,
            customer=(self._cell(row, "customer") or self.mapping.defaults.get("customer", ""))[:200],
            severity=severity, impact=self._mapped(row, "impact", fallback="one_user"),
            complexity=self._mapped(row, "complexity", fallback="known_issue"), entry=entry, level=level,
            escalated=escalated, acknowledged=acknowledged, resolved=resolved,
            csat=int(csat) if csat else None, root_cause=root_cause, revenue=self._amount(row),
        )

    # --- cells --------------------------------------------------------------------
    @staticmethod
    def _cell(row: dict[str, str], fact: str) -> str:
        return row.get(fact, "")

    def _mapped(self, row, fact: str, *, required: bool = True, fallback: str | None = None) -> str | None:
        value = self._cell(row, fact)
        if not value:
            default = self.mapping.defaults.get(fact, fallback)
            if default is None and required:
                raise RowError(f"no {fact} (column {self.mapping.columns[fact]!r} is empty)")
            return default
        table = self.mapping.values.get(fact)
        if table is None:
            if fact == "csat" and value.isdigit() and 1 <= int(value) <= 5:
                return value
            if fact == "csat":
                raise RowError(f"csat {value!r} is not a score from 1 to 5 (map it in values.csat)")
            if fact == "root_cause" and value in self.policy.root_causes:
                return value
            if fact in ("severity", "level", "impact", "complexity", "root_cause"):
                allowed = {"severity": ("P1", "P2", "P3", "P4"), "level": tuple(self.policy.levels),
                           "root_cause": self.policy.root_causes}.get(fact)
                if allowed is None or value in allowed:
                    return value
                raise RowError(f"{fact} {value!r} is not one of {', '.join(allowed)} (map it in values.{fact})")
            return value
        mapped = table.get(value.casefold())
        if mapped is None:
            known = ", ".join(sorted(table))
            raise RowError(f"{fact} {value!r} is not in the mapping's values.{fact} ({known})")
        return mapped

    def _time(self, row, fact: str) -> datetime | None:
        value = self._cell(row, fact)
        if not value:
            return None
        try:
            if self.mapping.time_format:
                at = datetime.strptime(value, self.mapping.time_format)
            else:
                at = datetime.fromisoformat(value)
        except ValueError:
            wanted = self.mapping.time_format or "ISO 8601, e.g. 2026-03-01 14:05"
            raise RowError(f"{fact} {value!r} is not a time ({wanted})") from None
        if at.tzinfo is None:
            at = at.replace(tzinfo=self.mapping.timezone)
        return at.astimezone(timezone.utc)

    def _amount(self, row) -> Decimal | None:
        value = self._cell(row, "revenue")
        if not value:
            return None
        try:
            amount = Decimal(value.replace(",", "").replace("_", "").lstrip("$€£ "))
        except InvalidOperation:
            amount = Decimal(-1)
        if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
            raise RowError(f"revenue {value!r} is not a non-negative amount")
        return amount.quantize(Decimal("0.01"))
