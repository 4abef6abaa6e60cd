"""The alert ledger (bot/alerts.py): each notice is claimed once, ever, whether one at a
time or a sweep's batch at once, and its row says what it was for."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot import alerts
from bot.db import transaction
from bot.models import Alert, utcnow

BREACH = dict(ticket_id=1, kind="breach", level="tier1", threshold="response", cycle=1)
DIGEST = dict(kind="digest", level="tier2", threshold="2026-03-02")
REMINDER = dict(ticket_id=1, kind="reminder", level="tier1", threshold="update", cycle=3)
PING = dict(ticket_id=1, kind="management")  # no level, threshold or cycle of its own


def ledger(harness, keys):
    with harness.runtime.sessions() as session:
        return sorted((a.key, a.ticket_id, a.kind, a.level, a.threshold, a.cycle, a.created_at)
                      for a in session.scalars(select(Alert).where(Alert.key.in_(keys))))


def test_a_batch_claims_each_notice_once_and_records_what_it_was_for(harness):
    harness.briefing(harness.new_ticket())
    started = utcnow()
    with transaction(harness.runtime.sessions) as session:
        won = alerts.claim_many(session, [BREACH, DIGEST, REMINDER, PING])
    keys = {"1:breach:tier1:response:1", "-:digest:tier2:2026-03-02:0", "1:reminder:tier1:update:3",
            "1:management:-::0"}
    assert won == keys
    rows = ledger(harness, keys)
    assert [row[:6] for row in rows] == [
        ("-:digest:tier2:2026-03-02:0", None, "digest", "tier2", "2026-03-02", 0),
        ("1:breach:tier1:response:1", 1, "breach", "tier1", "response", 1),
        ("1:management:-::0", 1, "management", None, "", 0),
        ("1:reminder:tier1:update:3", 1, "reminder", "tier1", "update", 3),
    ]
    assert all(abs(row[6] - started) < timedelta(minutes=1) for row in rows)
    # the same notices again, with one new: only the new one is claimed
    with transaction(harness.runtime.sessions) as session:
        again = alerts.claim_many(session, [BREACH, DIGEST, REMINDER, PING, {**BREACH, "cycle": 2}])
    assert again == {"1:breach:tier1:response:2"}
    with transaction(harness.runtime.sessions) as session:
        assert alerts.claim_many(session, []) == set()


def test_one_at_a_time_and_in_a_batch_claim_the_same_keys(harness):
    harness.briefing(harness.new_ticket())
    with transaction(harness.runtime.sessions) as session:
        assert alerts.record_once(session, kind="overflow", level="tier1", threshold="2", cycle=1)
        assert not alerts.record_once(session, kind="overflow", level="tier1", threshold="2", cycle=1)
    with transaction(harness.runtime.sessions) as session:
        assert alerts.claim_many(session, [dict(kind="overflow", level="tier1", threshold="2", cycle=1)]) == set()
        assert alerts.claim_many(session, [DIGEST]) == {"-:digest:tier2:2026-03-02:0"}
    with transaction(harness.runtime.sessions) as session:
        assert not alerts.record_once(session, kind="digest", level="tier2", threshold="2026-03-02")
        assert alerts.record_once(session, ticket_id=1, kind="breach", level="tier1", threshold="response",
                                  cycle=1)
    assert [row[:6] for row in ledger(harness, {"1:breach:tier1:response:1", "-:overflow:tier1:2:1"})] == [
        ("-:overflow:tier1:2:1", None, "overflow", "tier1", "2", 1),
        ("1:breach:tier1:response:1", 1, "breach", "tier1", "response", 1),
    ]
