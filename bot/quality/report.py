"""`escalator report [--month YYYY-MM | --from DATE --to DATE] [--format text|json|html]
[--out FILE]`: the quality metrics of a range, as text, JSON (docs/report.schema.json)
or one self-contained HTML page with charts. Default: the last full month (in the
policy's time zone), as text on stdout."""
from __future__ import annotations

import json
import re
import sys
from datetime import date, datetime, time, timedelta

from bot.durations import parse_day
from bot.policy import Policy
from bot.quality.metrics import QualityMetrics, compute

FORMATS = ("text", "json", "html")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class RangeError(ValueError):
    """A bad --month / --from / --to: one line, said to the person."""


def report_range(policy: Policy, *, month: str | None = None, from_date: str | None = None,
                 to_date: str | None = None, today: date | None = None) -> tuple[datetime, datetime]:
    """[start, end) as aware datetimes at local midnights of the policy's time zone.
    --to is inclusive: the whole of that day is in the range."""
    tz = policy.timezone
    if month and (from_date or to_date):
        raise RangeError("give either --month or --from/--to, not both")
    if month:
        match = _MONTH.match(month)
        if not match or not 1 <= int(match[2]) <= 12:
            raise RangeError(f"--month must be YYYY-MM, e.g. 2026-11 (got {month!r})")
        first = date(int(match[1]), int(match[2]), 1)
        return _midnight(first, tz), _midnight(_next_month(first), tz)
    if from_date or to_date:
        if not (from_date and to_date):
            raise RangeError("--from and --to go together (dates as YYYY-MM-DD)")
        start, end = _parse_date("--from", from_date), _parse_date("--to", to_date)
        if end < start:
            raise RangeError(f"--to ({to_date}) is before --from ({from_date})")
        return _midnight(start, tz), _midnight(end + timedelta(days=1), tz)
    today = today or datetime.now(tz).date()
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    return _midnight(last_month, tz), _midnight(this_month, tz)


def render(metrics: QualityMetrics, policy: Policy, fmt: str) -> str:
    from bot.quality import report_render

    if fmt == "json":
        return json.dumps(metrics.to_dict(), indent=2, sort_keys=False, default=str) + "\n"
    if fmt == "html":
        return report_render.html(metrics, policy)
    return report_render.text(metrics, policy)


def run_report(sessions, policy: Policy, *, month=None, from_date=None, to_date=None, fmt="text",
               out: str | None = None) -> int:
    """The CLI's work: 0 written, 2 bad input (one line on stderr, nothing written)."""
    try:
        if fmt not in FORMATS:
            raise RangeError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
        start, end = report_range(policy, month=month, from_date=from_date, to_date=to_date)
    except RangeError as error:
        print(f"escalator report: {error}", file=sys.stderr)
        return 2
    with sessions() as session:
        metrics = compute(session, policy, start, end)
    document = render(metrics, policy, fmt)
    if out:
        try:
            with open(out, "w", encoding="utf-8") as file:
                file.write(document)
        except OSError as error:
            print(f"escalator report: can't write {out}: {error.strerror}", file=sys.stderr)
            return 2
        print(f"report written to {out}" + (" (no activity in the range)" if metrics.empty else ""),
              file=sys.stderr)
    else:
        sys.stdout.write(document)
    return 0


def _parse_date(flag: str, value: str) -> date:
    try:
        return parse_day(flag, value)
    except ValueError as error:
        raise RangeError(str(error)) from None


def _midnight(day: date, tz) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def _next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)
