"""Two people acting on a ticket at the same moment — real concurrent requests at the
HTTP endpoint, on SQLite and PostgreSQL — end in one consistent outcome, and whoever
lost is told, ephemerally, what happened instead."""
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from bot.acknowledgment import Click
from bot.ids import ActionId
from bot.models import Ticket, TicketEvent, TicketStay, utcnow
from bot.quality import stays
from tests.harness import AGENT, AGENT2, CHANNELS, SUPPORT

ROUNDS = 3  # a few tickets per case, so both orders of arrival get a chance


def at_once(*actions):
    """Run the callables in threads released together; returns their results in order."""
    gate = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def run(index, action):
        gate.wait()
        results[index] = action()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    return results


def events(harness, ticket_id: int, kind: str) -> list[TicketEvent]:
    with harness.runtime.sessions() as session:
        return session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id,
                                                         TicketEvent.kind == kind)).all()


def assert_stays_follow_the_events(harness, ticket_id: int) -> None:
    """The stays kept while two writers raced (bot.quality.stays.follow, under the ticket's
    row lock) are the ones its events define (read without writing: a rebuild here would
    race the bot's own writers, and SQLite refuses a read transaction's late write)."""
    columns = (TicketStay.ticket_id, TicketStay.stay, TicketStay.level, TicketStay.arrived_by,
               TicketStay.arrived_at, TicketStay.acknowledged_at, TicketStay.left_at, TicketStay.resolutions)
    with harness.runtime.sessions() as session:
        kept = [tuple(row) for row in session.execute(
            select(*columns).where(TicketStay.ticket_id == ticket_id).order_by(TicketStay.stay))]
        assert kept == stays.defined(session.connection(), [ticket_id])


def ticket(harness, ticket_id: int) -> Ticket:
    with harness.runtime.sessions() as session:
        return session.get(Ticket, ticket_id)


def escalate_modal(harness, user, briefing):
    return harness.modal_from(user, briefing, ActionId.ESCALATE)


def test_acknowledge_and_resolve_at_once(harness):
    for _ in range(ROUNDS):
        key = harness.new_ticket(Summary="Search returns nothing")
        ticket_id = int(key.split("-")[1])
        briefing = harness.briefing(key)
        resolve = harness.modal_from(AGENT2, briefing, ActionId.RESOLVE)
        told_before = len(harness.ephemeral_texts(AGENT, CHANNELS["tier1"]))
        clicked, submitted = at_once(
            lambda: harness.driver.click(AGENT, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE),
            lambda: harness.driver.submit_view(AGENT2, resolve.id, {
                "Resolution": "Reindexed", "Root cause": "Bug"}))
        assert clicked.status == 200 and submitted.status == 200 and not (submitted.json or {}).get("errors")

        assert ticket(harness, ticket_id).status == "resolved"
        acknowledged = events(harness, ticket_id, "acknowledged")
        if not acknowledged:  # the resolve came first: the click lost, and says so
            told = harness.sim.wait_for(
                lambda: harness.ephemeral_texts(AGENT, CHANNELS["tier1"])[told_before:], message="the notice")
            assert f"{key} was resolved by <@{AGENT2}>" in told[0] and "Nothing changed" in told[0]
        harness.settle()
        shown = harness.sim.message(CHANNELS["tier1"], briefing.ts).rendered
        assert "Resolved" in shown and "[Acknowledge]" not in shown and "[Reopen]" in shown
        assert len(events(harness, ticket_id, "resolved")) == 1
        assert_stays_follow_the_events(harness, ticket_id)


def test_two_escalations_at_once(harness):
    for _ in range(ROUNDS):
        key = harness.new_ticket(Summary="Payments time out")
        ticket_id = int(key.split("-")[1])
        briefing = harness.briefing(key)
        first, second = escalate_modal(harness, AGENT, briefing), escalate_modal(harness, AGENT2, briefing)
        before = {user: len(harness.ephemeral_texts(user, CHANNELS["tier1"])) for user in (AGENT, AGENT2)}
        answers = at_once(
            lambda: harness.driver.submit_view(AGENT, first.id, {
                "Level": "Tier 2", "Trigger": "Complexity", "Reason": "Needs a specialist"}),
            lambda: harness.driver.submit_view(AGENT2, second.id, {
                "Level": "Management", "Trigger": "Business risk", "Reason": "Key account"}))
        assert all(a.status == 200 and not (a.json or {}).get("errors") for a in answers)

        moves = events(harness, ticket_id, "escalated")
        assert len(moves) == 1  # one escalation won
        winner = moves[0].actor_id
        loser = AGENT2 if winner == AGENT else AGENT
        assert ticket(harness, ticket_id).level == moves[0].to_level
        told = harness.sim.wait_for(lambda: harness.ephemeral_texts(loser, CHANNELS["tier1"])[before[loser]:],
                                    message="the loser's notice")
        assert f"{key} changed while you had this open" in told[0]
        assert f"by <@{winner}>" in told[0] and "Nothing changed" in told[0]
        harness.settle()
        other = "management" if moves[0].to_level == "tier2" else "tier2"
        assert not [m for m in harness.sim.messages(CHANNELS[other]) if f"{key} ·" in m.rendered]
        assert_stays_follow_the_events(harness, ticket_id)


def test_escalating_while_the_time_limit_escalates_it(harness):
    limit = harness.policy.time_limits["tier1"]
    for round_ in range(ROUNDS):
        head_start = round_ * 0.02  # the sweep starts later each round, so the person sometimes wins
        key = harness.new_ticket(Summary="Reports empty")
        ticket_id = int(key.split("-")[1])
        briefing = harness.briefing(key)
        modal = escalate_modal(harness, AGENT, briefing)
        before = len(harness.ephemeral_texts(AGENT, CHANNELS["tier1"]))
        _, answer = at_once(
            lambda: time.sleep(head_start) or harness.runtime.sla.run(now=utcnow() + limit + timedelta(minutes=1)),
            lambda: harness.driver.submit_view(AGENT, modal.id, {
                "Level": "Management", "Trigger": "Customer request", "Reason": "Customer called the CEO"}))
        assert answer.status == 200 and not (answer.json or {}).get("errors")

        moves = events(harness, ticket_id, "escalated")
        assert len(moves) == 1
        if moves[0].actor_id is None:  # the time limit came first
            assert (moves[0].to_level, moves[0].trigger) == ("tier2", "time_limit")
            told = harness.sim.wait_for(lambda: harness.ephemeral_texts(AGENT, CHANNELS["tier1"])[before:],
                                        message="the notice")
            assert "escalated Tier 1 → Tier 2 by Escalator (Time limit)" in told[0]
        else:  # the person came first: the tier1 time limit no longer applies
            assert (moves[0].to_level, moves[0].actor_id) == ("management", AGENT)
        assert ticket(harness, ticket_id).level == moves[0].to_level
        assert_stays_follow_the_events(harness, ticket_id)


def test_a_command_modal_after_the_ticket_moved_is_refused_with_what_happened(harness):
    key = harness.new_ticket(Summary="Exports slow")
    briefing = harness.briefing(key)
    harness.driver.command(AGENT2, SUPPORT, key)
    stale = harness.sim.wait_for(lambda: harness.sim.open_modal(AGENT2), message="the escalate modal")
    fresh = escalate_modal(harness, AGENT, briefing)
    harness.driver.submit_view(AGENT, fresh.id, {"Level": "Tier 2", "Trigger": "Impact", "Reason": "Spreading"})
    harness.briefing(key, "tier2")
    answer = harness.driver.submit_view(AGENT2, stale.id, {"Level": "Tier 2", "Trigger": "Impact", "Reason": "Same"})
    assert answer.status == 200 and not (answer.json or {}).get("errors")  # the modal closes
    told = harness.sim.wait_for(lambda: harness.ephemeral_texts(AGENT2, SUPPORT), message="the notice")
    assert f"escalated Tier 1 → Tier 2 by <@{AGENT}>" in told[-1] and "now at Tier 2" in told[-1]
    assert len(events(harness, 1, "escalated")) == 1


def test_many_acknowledgments_at_once_each_count_once_in_their_own_thread(harness):
    """Clicks of the same moment are written together: each ticket is acknowledged by the
    person who clicked it, with one event and one note in its own thread; a second click
    on a ticket among them (another person's, or the same person's double click) is told
    who was first."""
    keys = [harness.new_ticket(Summary=f"Login loop {n}") for n in range(6)]
    briefings = [harness.briefing(key) for key in keys]
    clickers = [AGENT if n % 2 else AGENT2 for n in range(len(keys))]
    late = AGENT if clickers[0] == AGENT2 else AGENT2
    told_before = {user: len(harness.ephemeral_texts(user, CHANNELS["tier1"])) for user in (AGENT, AGENT2)}
    clicks = [(user, briefing) for user, briefing in zip(clickers, briefings)] + [
        (late, briefings[0]), (clickers[1], briefings[1])]
    answers = at_once(*(
        lambda user=user, briefing=briefing: harness.driver.click(user, CHANNELS["tier1"], briefing.ts,
                                                                 ActionId.ACKNOWLEDGE)
        for user, briefing in clicks))
    assert all(answer.status == 200 for answer in answers)

    harness.settle()
    for key, briefing in zip(keys, briefings):
        ticket_id = int(key.split("-")[1])
        acknowledged = events(harness, ticket_id, "acknowledged")
        assert len(acknowledged) == 1
        first = acknowledged[0].actor_id
        assert ticket(harness, ticket_id).acknowledged_by == first
        notes = [text for text in harness.thread_texts(briefing) if "Acknowledged by" in text]
        assert notes == [f"Acknowledged by <@{first}>."]
        assert "[Acknowledge]" not in harness.sim.message(CHANNELS["tier1"], briefing.ts).rendered
    for key, user in zip(keys[1:], clickers[1:]):
        assert events(harness, int(key.split("-")[1]), "acknowledged")[0].actor_id == user
    winner = events(harness, int(keys[0].split("-")[1]), "acknowledged")[0].actor_id
    loser = late if winner == clickers[0] else clickers[0]

    def notices():
        return [(user, text) for user in (AGENT, AGENT2)
                for text in harness.ephemeral_texts(user, CHANNELS["tier1"])[told_before[user]:]]

    told = harness.sim.wait_for(lambda: len(notices()) >= 2 and notices(), message="the second clicks' notices")
    assert sorted(told) == sorted([(loser, f"{keys[0]} was already acknowledged by <@{winner}>."),
                                   (clickers[1], f"{keys[1]} was already acknowledged by <@{clickers[1]}>.")])


def refuse_acknowledging(harness, ticket_id: int) -> None:
    """A database trigger that makes any write acknowledging this ticket fail."""
    with harness.runtime.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql(
                f"CREATE TRIGGER refuse_ack BEFORE INSERT ON ticket_events WHEN NEW.kind = 'acknowledged' "
                f"AND NEW.ticket_id = {ticket_id} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
        else:
            connection.exec_driver_sql(
                "CREATE FUNCTION refuse_ack() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.kind = 'acknowledged' AND NEW.ticket_id = {ticket_id} THEN "
                "RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
            connection.exec_driver_sql("CREATE TRIGGER refuse_ack BEFORE INSERT ON ticket_events "
                                       "FOR EACH ROW EXECUTE FUNCTION refuse_ack()")


def test_a_click_that_fails_does_not_sink_the_clicks_written_with_it(harness):
    keys = [harness.new_ticket(Summary=f"Invoices missing {n}") for n in range(5)]
    briefings = [harness.briefing(key) for key in keys]
    broken = int(keys[0].split("-")[1])
    refuse_acknowledging(harness, broken)
    told_before = len(harness.ephemeral_texts(AGENT, CHANNELS["tier1"]))
    answers = at_once(*(
        lambda briefing=briefing: harness.driver.click(AGENT, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE)
        for briefing in briefings))
    assert all(answer.status == 200 for answer in answers)

    harness.settle()
    for key, briefing in zip(keys[1:], briefings[1:]):
        assert ticket(harness, int(key.split("-")[1])).acknowledged_by == AGENT
        assert f"Acknowledged by <@{AGENT}>." in harness.thread_texts(briefing)
    assert ticket(harness, broken).acknowledged_by is None and not events(harness, broken, "acknowledged")
    assert not [text for text in harness.thread_texts(briefings[0]) if "Acknowledged by" in text]
    told = harness.sim.wait_for(lambda: harness.ephemeral_texts(AGENT, CHANNELS["tier1"])[told_before:],
                                message="the failed click's notice")
    assert len(told) == 1 and "Something went wrong on our side" in told[0]


def test_a_batch_of_clicks_counts_each_tickets_first_click_only(harness):
    """What a batch does with the clicks it holds, in their order: the first click on a
    ticket wins even when the second's person comes first among the batch's claims."""
    keys = [harness.new_ticket(Summary=f"Webhooks dropped {n}") for n in range(3)]
    first, second, third = (int(key.split("-")[1]) for key in keys)
    for key in keys:
        harness.briefing(key)
    outcomes = harness.runtime.desk.acknowledgments.claim_together([
        Click(second, "tier1", AGENT2), Click(first, "tier1", AGENT), Click(first, "tier1", AGENT2),
        Click(first, "tier1", AGENT), Click(third, "tier2", AGENT)])

    assert [ticket.acknowledged_by if ticket else None for ticket in outcomes] == [AGENT2, AGENT, None, None, None]
    assert ticket(harness, first).acknowledged_by == AGENT and len(events(harness, first, "acknowledged")) == 1
    assert ticket(harness, second).acknowledged_by == AGENT2
    assert ticket(harness, third).acknowledged_by is None and not events(harness, third, "acknowledged")


def test_a_batch_skips_a_ticket_another_transaction_holds_rather_than_wait(harness):
    """PostgreSQL: a batch never waits on a row lock (a wait there would hold up every
    click in it); the held ticket's click is left to the checked path, alone."""
    if harness.runtime.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite writers take turns")
    held, free = (harness.new_ticket(Summary=f"Exports stuck {n}") for n in range(2))
    held_id, free_id = int(held.split("-")[1]), int(free.split("-")[1])
    harness.briefing(held), harness.briefing(free)
    outcomes = []
    with harness.runtime.engine.connect() as other:
        other.execute(text("SELECT id FROM tickets WHERE id = :id FOR UPDATE"), {"id": held_id})
        batch = threading.Thread(target=lambda: outcomes.extend(harness.runtime.desk.acknowledgments.claim_together(
            [Click(held_id, "tier1", AGENT), Click(free_id, "tier1", AGENT)])))
        batch.start()
        batch.join(timeout=5)
        waited_on_the_lock = batch.is_alive()
        other.rollback()  # lets a batch that waited finish, so the test ends either way
    batch.join(timeout=10)
    assert not waited_on_the_lock
    assert outcomes[0] is None and outcomes[1].acknowledged_by == AGENT
    assert ticket(harness, held_id).acknowledged_by is None
    harness.runtime.desk.acknowledge(held_id, AGENT, at_level="tier1")  # the click's own retry, once free
    assert ticket(harness, held_id).acknowledged_by == AGENT
