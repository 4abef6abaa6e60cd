"""The quality metrics (docs/quality-metrics.md) over small, hand-written histories whose
answers are known, on SQLite and PostgreSQL."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert

from bot.db import make_engine, make_session_factory, upgrade
from bot.models import CsatResponse, SlaClock, Ticket, TicketEvent
from bot.policy import BusinessHours, load_policy
from bot.quality import stays
from bot.quality.metrics import compare, compute, key_figures

UTC = timezone.utc
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Berlin
NOV = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


class History:
    """Writes tickets and their events as the desk would have, at chosen times."""

    def __init__(self, connection):
        self.connection, self.next_id = connection, 1

    def ticket(self, severity="P3", opened_at=T0, level="tier1", steps=(), root_cause="Bug", **facts) -> int:
        ticket_id, self.next_id = self.next_id, self.next_id + 1
        events = [dict(kind="opened", to_level=level, at=opened_at)]
        status, resolved_at, current = "open", None, level
        for kind, minutes, fields in steps:
            at = opened_at + timedelta(minutes=minutes)
            events.append(dict(kind=kind, at=at, **fields))
            current = fields.get("to_level", current)
            status, resolved_at = ("resolved", at) if kind == "resolved" else ("open", None)
        self.connection.execute(insert(Ticket.__table__), [dict(
            id=ticket_id, summary="s", customer="c", severity=severity, impact="one_user", complexity="known_issue",
            level=current, status=status, cycle=1, requester_id="U0AGENT1", created_at=opened_at,
            updated_at=opened_at, resolved_at=resolved_at, root_cause=root_cause if resolved_at else None, **facts)])
        rows = [{"from_level": None, "to_level": None, "trigger": None, "reason": None, "detail": {},
                 "ticket_id": ticket_id, "actor_id": e.pop("actor_id", "U0AGENT1"), **e} for e in events]
        self.connection.execute(insert(TicketEvent.__table__), rows)
        stays.follow(self.connection, rows)  # as bot.history keeps them
        return ticket_id


def ack(minutes, level="tier1"):
    return ("acknowledged", minutes, {"from_level": level})


def up(minutes, frm, to, trigger="complexity", actor_id="U0AGENT1"):
    return ("escalated", minutes, {"from_level": frm, "to_level": to, "trigger": trigger, "actor_id": actor_id})


def resolved(minutes, level="tier1"):
    return ("resolved", minutes, {"from_level": level})


@pytest.fixture
def db(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine, make_session_factory(engine)
    engine.dispose()


def metrics_of(db, write, policy=None, window=NOV):
    engine, sessions = db
    with engine.begin() as connection:
        write(History(connection), connection)
    with sessions() as session:
        return compute(session, policy or load_policy(), *window)


def test_first_contact_resolution_counts_only_tickets_resolved_where_they_entered(db):
    def write(h, _):
        h.ticket(steps=[ack(10), resolved(60)])                                  # FCR
        h.ticket(steps=[ack(20), resolved(30)])                                  # FCR
        h.ticket(steps=[ack(5), up(30, "tier1", "tier2"), ack(40, "tier2"), resolved(90, "tier2")])
        h.ticket(steps=[ack(5), resolved(50), ("reopened", 70, {"to_level": "tier1"}), resolved(100)])
        h.ticket(level="tier2", steps=[resolved(60, "tier2")])                   # climbed on open: not FCR
        h.ticket(steps=[ack(5)])                                                 # still open: not counted
    m = metrics_of(db, write)
    assert (m.fcr.part, m.fcr.whole) == (2, 5)
    assert (m.reopened.part, m.reopened.whole) == (1, 5)
    assert m.handoffs == 1
    assert m.resolution_fcr.median == pytest.approx(30 * 60)  # 30 and 60 minutes: nearest-rank median
    assert m.resolution_escalated.count == 3


def test_escalation_rate_is_left_upward_over_arrived_per_level_and_splits_automatic(db):
    def write(h, _):
        h.ticket(steps=[up(240, "tier1", "tier2", trigger="time_limit", actor_id=None)])
        h.ticket(steps=[up(30, "tier1", "tier2", trigger="impact")])
        h.ticket(steps=[up(30, "tier1", "tier2"), ("deescalated", 50, {"from_level": "tier2", "to_level": "tier1",
                                                                       "trigger": "de-escalation"}),
                        up(55, "tier1", "tier2", trigger="undo")])
        h.ticket(steps=[resolved(30)])
    m = metrics_of(db, write)
    tier1 = m.escalation_rate("tier1")
    assert (tier1.part, tier1.whole) == (3, 5)  # 4 opened + 1 de-escalated back; the undo is not an escalation
    assert m.escalated == 3 and m.automatic_escalations == 1
    assert (m.deescalated, m.undos) == (1, 1)
    assert {e["trigger"] for e in m.escalations} == {"time_limit", "impact", "complexity"}


def test_time_to_acknowledge_median_and_p90_by_level(db):
    def write(h, _):
        for minutes in (10, 20, 30, 40, 50, 60, 70, 80, 90, 100):
            h.ticket(steps=[ack(minutes)])
    m = metrics_of(db, write)
    tier1 = m.acknowledge["tier1"]
    assert tier1.count == 10
    assert tier1.median == pytest.approx(50 * 60)
    assert tier1.p90 == pytest.approx(90 * 60)


def test_time_spent_per_level_runs_from_arrival_to_leaving(db):
    def write(h, _):
        h.ticket(steps=[ack(5), up(60, "tier1", "tier2"), ack(70, "tier2"), resolved(240, "tier2")])
    m = metrics_of(db, write)
    assert m.time_in_level["tier1"].median == pytest.approx(3600)
    assert m.time_in_level["tier2"].median == pytest.approx(180 * 60)
    assert m.acknowledge["tier2"].median == pytest.approx(10 * 60)
    assert m.resolution["tier2"].median == pytest.approx(240 * 60)


def test_business_hours_leave_nights_and_weekends_out(db):
    """Opened Friday 16:00 Berlin, acknowledged Monday 10:00: 1 h + 1 h of business time."""
    friday = datetime(2026, 11, 6, 15, 0, tzinfo=UTC)
    policy = replace(load_policy(), business_hours=BusinessHours(days=("mon", "tue", "wed", "thu", "fri"),
                                                                 start="09:00", end="17:00"))

    def write(h, _):
        h.ticket(opened_at=friday, steps=[ack((2 * 24 + 18) * 60)])
    m = metrics_of(db, write, policy)
    assert m.business_time
    assert m.acknowledge["tier1"].median == pytest.approx(2 * 3600)


def test_sla_attainment_comes_from_the_clocks_by_severity(db):
    def write(h, connection):
        first, second = h.ticket(severity="P2"), h.ticket(severity="P2")
        clock = dict(kind="response", level="tier1", cycle=1, started_at=T0, target_seconds=14400, warned=False)
        connection.execute(insert(SlaClock.__table__), [
            dict(clock, ticket_id=first, breached=False, stopped_at=T0 + timedelta(hours=1)),
            dict(clock, ticket_id=second, breached=True, stopped_at=None)])
    m = metrics_of(db, write)
    rate = m.sla_rate(severity="P2", clock="response")
    assert (rate.part, rate.whole) == (1, 2)


def test_csat_by_resolving_level_counts_the_latest_resolution(db):
    def write(h, connection):
        a = h.ticket(steps=[resolved(30)])
        b = h.ticket(steps=[resolved(30), ("reopened", 40, {"to_level": "tier1"}), resolved(60)])
        h.ticket(steps=[resolved(30)])
        answered = T0 + timedelta(hours=2)
        answer = dict(level="tier1", responder_id="UC1", channel="slack", answered_at=answered,
                      first_answered_at=answered)
        connection.execute(insert(CsatResponse.__table__), [
            dict(answer, ticket_id=a, resolution=1, score=5),
            dict(answer, ticket_id=b, resolution=1, score=1),  # the first resolution's: superseded
            dict(answer, ticket_id=b, resolution=2, score=4)])
    m = metrics_of(db, write)
    tier1 = m.csat_by_level["tier1"]
    assert (tier1["asked"], tier1["responses"]) == (3, 2)
    assert tier1["mean"] == pytest.approx(4.5)
    assert tier1["share_4_5"] == 1.0


def test_prevention_lists_name_the_tickets(db):
    def write(h, _):
        for _ in range(3):
            h.ticket(steps=[resolved(30)], kb_gap=True, kb_article="Webhook retries", root_cause="Bug")
        h.ticket(steps=[resolved(30)], product_link="https://tracker/PROD-1", revenue_at_risk=5000,
                 root_cause="Feature gap")
        h.ticket(steps=[up(10, "tier1", "tier2"), resolved(40, "tier2")], root_cause="Configuration")
        h.ticket(steps=[up(10, "tier1", "tier2"), resolved(200, "tier2")], root_cause="Configuration")
    p = metrics_of(db, write).prevention
    assert p["top_root_causes"][0] == {"root_cause": "Bug", "tickets": 3}
    assert p["kb_gaps"] == [{"article": "Webhook retries", "count": 3, "tickets": ["ESC-1", "ESC-2", "ESC-3"]}]
    assert p["product_inputs"][0]["tickets"] == ["ESC-4"] and p["product_inputs"][0]["revenue_at_risk"] == 5000
    assert p["automation"][0]["article"] == "Webhook retries"
    assert [(g["from_level"], g["trigger"], g["root_cause"], g["tickets"]) for g in p["skill_gap"]] == [
        ("tier1", "complexity", "Configuration", ["ESC-5"])]  # ESC-6 took tier2 over an hour


def test_the_range_is_half_open_and_an_empty_range_says_so(db):
    def write(h, _):
        h.ticket(opened_at=datetime(2026, 10, 31, 23, 59, tzinfo=UTC), steps=[resolved(0.5)])
        h.ticket(opened_at=datetime(2026, 12, 1, 0, 0, tzinfo=UTC), steps=[resolved(1)])
    m = metrics_of(db, write)
    assert m.empty and m.opened == 0 and m.resolved == 0
    engine, sessions = db
    with sessions() as session:
        october = compute(session, load_policy(), datetime(2026, 10, 1, tzinfo=UTC), NOV[0])
    assert october.opened == 1 and october.resolved == 1


def test_compare_sets_each_headline_figure_beside_last_months(db):
    def write(h, _):
        h.ticket(opened_at=datetime(2026, 10, 5, tzinfo=UTC), steps=[resolved(30)])
        h.ticket(steps=[resolved(30)])
        h.ticket(steps=[up(10, "tier1", "tier2"), resolved(40, "tier2")])
    current = metrics_of(db, write)
    with db[1]() as session:
        previous = key_figures(session, load_policy(), datetime(2026, 10, 1, tzinfo=UTC), NOV[0])
    changes = {c.key: c for c in compare(current, previous)}
    assert (changes["opened"].current, changes["opened"].previous, changes["opened"].delta) == (2, 1, 1)
    assert changes["fcr_rate"].delta == pytest.approx(0.5 - 1.0)


def test_criteria_escalations_say_which_criterion(db):
    def write(h, _):
        h.ticket(level="tier2")  # P3 enters at tier1: the matrix climbed on open
        h.ticket(steps=[("escalated", 5, {"from_level": "tier1", "to_level": "tier2", "trigger": "criteria",
                                          "reason": "criteria matrix: Impact: Multiple users (Tier 1 → Tier 2)"})])
    engine, _ = db
    m = metrics_of(db, write)
    criteria = [e for e in m.escalations if e["trigger"] == "criteria"]
    assert {e["criterion"] for e in criteria} == {"", "criteria matrix: Impact: Multiple users (Tier 1 → Tier 2)"}
    assert all(e["automatic"] for e in criteria) and sum(e["count"] for e in criteria) == 2


def test_the_headline_alone_gives_the_full_reports_headline_figures(db):
    """`/escalate stats` asks for the headline only (no per-level times); its figures are
    the report's own."""
    def write(h, _):
        h.ticket(steps=[ack(10), resolved(60)])
        h.ticket(steps=[ack(30), up(40, "tier1", "tier2"), ack(55, "tier2"), resolved(240, "tier2")])
        h.ticket(severity="P2", steps=[ack(5), resolved(20)])
    full = metrics_of(db, write)
    with db[1]() as session:
        headline = key_figures(session, load_policy(), *NOV, detail=False)
    assert [(f.key, f.value) for f in headline.headline()] == [(f.key, f.value) for f in full.headline()]
    assert headline.resolution_all.median == pytest.approx(60 * 60)  # 20 min, 60 min, 4 h
    assert headline.time_in_level == {} and full.time_in_level
