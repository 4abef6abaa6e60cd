"""`escalator simulate` on the command line: read the recorded tickets (read-only), replay
them under both policies, print the comparison as text or JSON."""
from __future__ import annotations

import json
import sys
from datetime import date, datetime, timezone

from bot.config import load_settings
from bot.db import make_engine
from bot.durations import parse_day
from bot.policy.parsing import load_policy
from bot.policy.replay import read_recorded
from bot.policy.simulate import PolicyRun, differences, replay, window_end


def run_simulation(args, out=print) -> int:
    settings = load_settings(need_slack=False)
    current = load_policy(settings.policy_path)
    candidate = load_policy(args.policy)
    try:
        start = _date(args.start, "--from")
        end = _date(args.end, "--to")
    except ValueError as error:
        print(f"escalator: {error}", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    try:
        tickets = read_recorded(engine, start, end, current.timezone)
    except Exception as error:  # a database never migrated, unreachable, …: one line, not a traceback
        print(f"escalator: can't read the recorded tickets from the database: {type(error).__name__}: "
              f"{str(error).splitlines()[0] if str(error) else ''}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    until = window_end(tickets, datetime.now(timezone.utc))
    runs = replay(tickets, current, until), replay(tickets, candidate, until)
    found = differences(*runs, current.timezone)
    summary = {
        "tickets": len(tickets),
        "from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
        "replayed_until": until.isoformat(timespec="seconds"),
        "policies": {"current": settings.policy_path or "built-in policy", "candidate": args.policy},
        "current": _figures(runs[0]), "candidate": _figures(runs[1]),
        "differing_tickets": [{"key": d.key, "at": d.at.isoformat(timespec="seconds") if d.at else None,
                               "current": d.current, "candidate": d.candidate} for d in found],
    }
    if args.format == "json":
        out(json.dumps(summary, indent=2))
    else:
        _text(summary, out)
    return 0


def _date(value: str | None, option: str) -> date | None:
    return None if value is None else parse_day(option, value)


def _figures(run: PolicyRun) -> dict:
    return {
        "warnings": dict(sorted(run.warnings.items())), "breaches": dict(sorted(run.breaches.items())),
        "breaches_told_management": run.breaches_told_management,
        "escalations": dict(run.escalations), "deescalations": dict(run.deescalations),
        "pings": dict(sorted(run.pings.items())), "load": run.load,
        "actions_not_replayed": dict(sorted(run.not_replayed.items())),
    }


def _text(summary: dict, out) -> None:
    current, candidate = summary["current"], summary["candidate"]
    window = f" opened {summary['from'] or 'any time'} to {summary['to'] or 'now'}" \
        if summary["from"] or summary["to"] else ""
    until = datetime.fromisoformat(summary["replayed_until"])
    out(f"{summary['tickets']} recorded tickets{window}, replayed until {until:%Y-%m-%d %H:%M} UTC")
    out(f"current: {summary['policies']['current']}   candidate: {summary['policies']['candidate']}")
    out("")
    out(f"{'':34}{'current':>10}{'candidate':>11}{'change':>9}")
    for title, key in (("warnings", "warnings"), ("breaches", "breaches")):
        _row(out, title, sum(current[key].values()), sum(candidate[key].values()))
        for kind in sorted(set(current[key]) | set(candidate[key])):
            _row(out, f"  {kind.replace('_', ' ')}", current[key].get(kind, 0), candidate[key].get(kind, 0))
    _row(out, "breaches that told management", current["breaches_told_management"],
         candidate["breaches_told_management"])
    for title, key in (("escalations", "escalations"), ("de-escalations", "deescalations")):
        for how in ("automatic", "by_hand"):
            _row(out, f"{title}, {how.replace('_', ' ')}", current[key].get(how, 0), candidate[key].get(how, 0))
    out("pings by reason" + ("" if current["pings"] or candidate["pings"] else ": none"))
    for reason in sorted(set(current["pings"]) | set(candidate["pings"])):
        _row(out, f"  {reason}", current["pings"].get(reason, 0), candidate["pings"].get(reason, 0))
    out("load per level (tickets, ticket-hours)")
    for level in sorted(set(current["load"]) | set(candidate["load"])):
        ours = current["load"].get(level, {"tickets": 0, "hours": 0.0})
        theirs = candidate["load"].get(level, {"tickets": 0, "hours": 0.0})
        out(f"  {level:32}{ours['tickets']:>10}{theirs['tickets']:>11}{theirs['tickets'] - ours['tickets']:>+9}")
        out(f"  {'':32}{ours['hours']:>9.1f}h{theirs['hours']:>10.1f}h{theirs['hours'] - ours['hours']:>+8.1f}h")
    if current["actions_not_replayed"] or candidate["actions_not_replayed"]:
        out(f"actions not replayed (already so, or no longer possible): current {current['actions_not_replayed']}, "
            f"candidate {candidate['actions_not_replayed']}")
    differing = summary["differing_tickets"]
    out("")
    out(f"{len(differing)} tickets whose route or alerts differ" + (":" if differing else ""))
    for found in differing:
        out(f"  {found['key']}: current {found['current']}; candidate {found['candidate']}")


def _row(out, title: str, ours: int, theirs: int) -> None:
    out(f"{title:34}{ours:>10}{theirs:>11}{theirs - ours:>+9}")
