"""What bot.outbox records decides what people see in Slack: a commit that owes messages
wakes the worker at once (also in a burst while another channel is sending); an edit
rendered when sent stands for later ones, but never for a change made while it is in
flight, nor for a plain edit; links, reopened briefings and files in a thread arrive as
owed, and files that can't be shared are logged with their ticket.

The worker's poll (poll_interval) is the fallback for a missed wake-up; these tests set it
far beyond their waits, so a message that only goes out at the next poll counts as late.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import threading

import pytest

from bot import outbox
from bot.db import transaction
from bot.forms import EscalationRequest, Resolution, parse_new_ticket
from bot.models import Ticket
from bot.simulator.queries import scaled
from tests.harness import AGENT, CHANNELS, FAST_DELIVERY, SPECIALIST, Harness

SLOW_POLL = dataclasses.replace(FAST_DELIVERY, poll_interval=60.0)
PROMPT = 5.0  # seconds (times ESCALATOR_TEST_WAIT_SCALE): far less than a poll


def test_a_new_escalation_reaches_slack_at_once_not_at_the_next_poll(database_url):
    with Harness(database_url, delivery=SLOW_POLL) as h:
        key = h.new_ticket(AGENT, Summary="Checkout fails with a 500")
        briefing = h.briefing(key, timeout=PROMPT)
        assert briefing.channel == CHANNELS["tier1"]


def texts(messages) -> list[str]:
    return [m.text for m in messages]


def resolution() -> Resolution:
    return Resolution("fixed", "Bug", False, None, None, None)


def briefing_updates(h: Harness) -> list:
    return [c for c in h.sim.calls_to("chat.update") if c.params.get("channel") == CHANNELS["tier1"]]


def opened_and_sent(h: Harness):
    """A P2 ticket opened by AGENT, its briefing sent by the held worker."""
    ticket = h.runtime.desk.open_ticket(parse_new_ticket({"summary": "Checkout is down", "severity": "P2"}),
                                        requester_id=AGENT)
    assert h.runtime.worker.drain(timeout=scaled(10))
    return ticket


def test_a_burst_of_changes_costs_the_briefing_one_update_showing_the_last(database_url):
    """Each change owes an update rendered when sent; one waiting stands for the others."""
    with Harness(database_url, start_worker=False) as h:
        desk, worker = h.runtime.desk, h.runtime.worker
        ticket = opened_and_sent(h)
        homes = len(h.sim.calls_to("views.publish"))
        desk.acknowledge(ticket.id, AGENT)
        desk.resolve(ticket.id, resolution(), AGENT)
        assert worker.drain(timeout=scaled(10))

        assert len(briefing_updates(h)) == 1, [c.params.get("text") for c in briefing_updates(h)]
        [briefing] = h.sim.messages(CHANNELS["tier1"])
        assert "*Resolved " in briefing.rendered and "[Reopen]" in briefing.rendered, briefing.rendered
        assert len(h.sim.calls_to("views.publish")) - homes == 1  # the agent's Home, once


def test_a_change_made_while_its_briefing_update_is_being_sent_gets_its_own(database_url):
    """An update already claimed was rendered before the change: it can't stand for it."""
    with Harness(database_url, start_worker=False) as h:
        desk, worker = h.runtime.desk, h.runtime.worker
        ticket = opened_and_sent(h)
        desk.acknowledge(ticket.id, AGENT)
        slow = h.sim.answer_late("chat.update", seconds=1.5, channel=CHANNELS["tier1"])
        sending = threading.Thread(target=worker.drain, args=(scaled(10),))
        sending.start()
        try:
            assert slow.took_effect.wait(scaled(10))
            assert "Acknowledged by" in h.sim.messages(CHANNELS["tier1"])[0].rendered
            desk.resolve(ticket.id, resolution(), AGENT)
        finally:
            sending.join(scaled(15))
        assert worker.drain(timeout=scaled(10))

        assert len(briefing_updates(h)) == 2
        [briefing] = h.sim.messages(CHANNELS["tier1"])
        assert "*Resolved " in briefing.rendered and "[Reopen]" in briefing.rendered, briefing.rendered


def test_a_reopened_ticket_keeps_its_briefing_and_the_link_to_its_earlier_thread(database_url):
    """Reopening refreshes the briefing at the level the ticket reached (looking for the
    briefing before it); it still links to the earlier level's thread."""
    with Harness(database_url, start_worker=False) as h:
        desk, worker = h.runtime.desk, h.runtime.worker
        ticket = desk.open_ticket(parse_new_ticket({"summary": "Checkout is down", "severity": "P2"}),
                                  requester_id=AGENT)
        desk.escalate(ticket.id, EscalationRequest("tier2", "complexity", "needs a specialist"), AGENT)
        assert worker.drain(timeout=scaled(10))
        [earlier] = h.sim.messages(CHANNELS["tier1"])
        permalink = f"<https://fake.slack.test/archives/{CHANNELS['tier1']}/p{earlier.ts.replace('.', '')}|earlier thread>"
        assert permalink in json.dumps(h.sim.messages(CHANNELS["tier2"])[0].blocks)

        desk.resolve(ticket.id, resolution(), SPECIALIST)
        desk.reopen(ticket.id, SPECIALIST)
        assert worker.drain(timeout=scaled(10))

        [briefing] = h.sim.messages(CHANNELS["tier2"])
        assert briefing.edited and "[Acknowledge]" in briefing.rendered, briefing.rendered
        assert permalink in json.dumps(briefing.blocks)
        assert outbox.LINK_PLACEHOLDER not in json.dumps(briefing.blocks)


def test_a_ticket_reopened_at_its_only_level_gets_its_briefing_refreshed(database_url):
    with Harness(database_url, start_worker=False) as h:
        desk, worker = h.runtime.desk, h.runtime.worker
        ticket = desk.open_ticket(parse_new_ticket({"summary": "Checkout is down", "severity": "P2"}),
                                  requester_id=AGENT)
        desk.resolve(ticket.id, resolution(), AGENT)
        assert worker.drain(timeout=scaled(10))
        assert "[Reopen]" in h.sim.messages(CHANNELS["tier1"])[0].rendered

        desk.reopen(ticket.id, AGENT)
        assert worker.drain(timeout=scaled(10))

        [briefing] = h.sim.messages(CHANNELS["tier1"])
        assert "[Acknowledge]" in briefing.rendered and "[Reopen]" not in briefing.rendered, briefing.rendered
        assert h.thread_texts(briefing)[-1] == f"Reopened by <@{AGENT}>. SLA clocks start again."


def test_an_edit_owed_with_a_link_shows_the_linked_message_permalink(database_url):
    with Harness(database_url, start_worker=False) as h:
        with transaction(h.runtime.sessions) as session:
            root = outbox.post(session, channel=CHANNELS["tier1"], payload={"text": "v1"}, role="note")
            target = outbox.post(session, channel=CHANNELS["tier2"], payload={"text": "moved here"}, role="note")
            outbox.update(session, message=root, payload={"text": f"v2: {outbox.LINK_PLACEHOLDER}see there>"},
                          link_to=target)
        assert h.runtime.worker.drain(timeout=scaled(10))

        [there] = h.sim.messages(CHANNELS["tier2"])
        [edited] = h.sim.messages(CHANNELS["tier1"])
        assert edited.text == f"v2: <https://fake.slack.test/archives/{CHANNELS['tier2']}/p{there.ts.replace('.', '')}|see there>"


def _owe_alone(h: Harness, kind: str, message) -> None:
    """Commit a transaction that owes only one row of `kind`."""
    with transaction(h.runtime.sessions) as session:
        if kind == "update":
            outbox.update(session, message=message, payload={"text": "edited"})
        elif kind == "home":
            outbox.publish_homes(session, [AGENT])
        else:
            outbox.share_files(session, channel=CHANNELS["tier1"], initial_comment="Charts",
                               files=[outbox.FileToShare("a.png", "A", b"\x89PNG a")])


@pytest.mark.parametrize("kind", ["update", "home", "files"])
def test_a_commit_owing_only_an_edit_a_home_or_files_wakes_the_worker(database_url, kind):
    with Harness(database_url, delivery=SLOW_POLL) as h:
        with transaction(h.runtime.sessions) as session:
            message = outbox.post(session, channel=CHANNELS["tier1"], payload={"text": "first"}, role="note")
        [posted] = h.sim.wait_for(lambda: h.sim.messages(CHANNELS["tier1"]), timeout=PROMPT, message="the post")
        h.settle(timeout=PROMPT)  # recorded, and the worker asleep again
        homes = len(h.sim.calls_to("views.publish"))

        _owe_alone(h, kind, message)

        if kind == "update":
            h.sim.wait_for(lambda: posted.text == "edited", timeout=PROMPT, message="the edit")
        elif kind == "home":
            h.sim.wait_for(lambda: len(h.sim.calls_to("views.publish")) > homes, timeout=PROMPT,
                           message="the Home")
        else:
            h.sim.wait_for(lambda: h.sim.shared_files(CHANNELS["tier1"]), timeout=PROMPT, message="the files")


def test_files_shared_in_a_thread_follow_the_replies_owed_before_them(database_url):
    """A reply that has to be retried holds back the files owed after it in its thread;
    the files keep their alt text."""
    with Harness(database_url, start_worker=False) as h:
        worker = h.runtime.worker
        with transaction(h.runtime.sessions) as session:
            root = outbox.post(session, channel=CHANNELS["tier1"], payload={"text": "the review"}, role="note")
        assert worker.drain(timeout=scaled(10))
        h.sim.fail_next("chat.postMessage", error="internal_error")  # the reply is retried
        with transaction(h.runtime.sessions) as session:
            outbox.post(session, channel=CHANNELS["tier1"], payload={"text": "first the figures"}, role="note",
                        thread=root)
            outbox.share_files(session, channel=CHANNELS["tier1"], thread=root, initial_comment="then the charts",
                               files=[outbox.FileToShare("a.png", "Volume", b"\x89PNG a", alt_text="Volume by week")])
        assert worker.drain(timeout=scaled(10))

        [review] = h.sim.messages(CHANNELS["tier1"])
        thread = h.sim.replies(CHANNELS["tier1"], review.ts)
        assert [bool(reply.files) for reply in thread] == [False, True], [reply.rendered for reply in thread]
        assert thread[0].text == "first the figures"
        assert [(f.title, f.alt_txt) for f in h.sim.shared_files(CHANNELS["tier1"])] == [("Volume", "Volume by week")]


def test_plain_edits_owed_with_rendered_ones_are_each_sent(database_url):
    """Only an edit rendered when sent may stand for a later one; a plain edit owed in the
    same call after a rendered one is its own row, even with an earlier edit still waiting."""
    with Harness(database_url, start_worker=False) as h:
        desk, worker = h.runtime.desk, h.runtime.worker
        ticket = desk.open_ticket(parse_new_ticket({"summary": "Checkout is down", "severity": "P2"}),
                                  requester_id=AGENT)
        with transaction(h.runtime.sessions) as session:
            note = outbox.post(session, channel=CHANNELS["tier2"], payload={"text": "v1"}, role="note")
        assert worker.drain(timeout=scaled(10))
        with transaction(h.runtime.sessions) as session:
            outbox.update(session, message=note, payload={"text": "v2"})
        with transaction(h.runtime.sessions) as session:
            briefing = desk.slack.current_briefing(session, session.get(Ticket, ticket.id))
            outbox.update_all(session, [
                outbox.Update(briefing, {"render": "briefing", "ticket_id": ticket.id, "message_id": briefing.id},
                              ticket_id=ticket.id),
                outbox.Update(note, {"text": "v3"})])
        assert worker.drain(timeout=scaled(10))

        assert [c.params.get("text") for c in h.sim.calls_to("chat.update")
                if c.params.get("channel") == CHANNELS["tier2"]] == ["v2", "v3"]
        assert texts(h.sim.messages(CHANNELS["tier2"])) == ["v3"]


def test_files_that_cannot_be_shared_are_logged_with_their_ticket(database_url, caplog):
    with Harness(database_url, start_worker=False) as h:
        ticket = h.runtime.desk.open_ticket(parse_new_ticket({"summary": "Checkout is down", "severity": "P2"}),
                                            requester_id=AGENT)
        h.sim.add_channel("C0GONE", "gone")
        h.sim.set_archived("C0GONE")
        with transaction(h.runtime.sessions) as session:
            outbox.share_files(session, channel="C0GONE", initial_comment="Charts", ticket_id=ticket.id,
                               files=[outbox.FileToShare("a.png", "A", b"\x89PNG a")])
        with caplog.at_level(logging.ERROR, logger="escalator.delivery"):
            assert h.runtime.worker.drain(timeout=scaled(10))
        assert any(f"ESC-{ticket.id}" in r.getMessage() and "C0GONE" in r.getMessage()
                   for r in caplog.records if r.levelno >= logging.ERROR), caplog.text


def test_a_message_for_an_idle_channel_is_not_held_up_by_a_slow_send_elsewhere(database_url):
    """Commits come in bursts: the worker gathers the channels of every commit in a burst.
    A burst owing one idle channel and one that is sending (its rows can't be claimed yet)
    must still wake the worker for the idle one."""
    with Harness(database_url, delivery=SLOW_POLL) as h:
        h.sim.add_channel("C0SLOW", "slow")
        h.sim.add_channel("C0IDLE", "idle")
        slow = h.sim.answer_late("chat.postMessage", seconds=scaled(6), channel="C0SLOW")
        with transaction(h.runtime.sessions) as session:
            outbox.post(session, channel="C0SLOW", payload={"text": "slow 1"}, role="note")
        assert slow.took_effect.wait(scaled(PROMPT))  # C0SLOW is sending now
        with transaction(h.runtime.sessions) as session:
            outbox.post(session, channel="C0IDLE", payload={"text": "idle"}, role="note")
        with transaction(h.runtime.sessions) as session:  # within the worker's 0.1 s gathering
            outbox.post(session, channel="C0SLOW", payload={"text": "slow 2"}, role="note")

        h.sim.wait_for(lambda: h.sim.messages("C0IDLE"), timeout=PROMPT, message="the idle channel's message")
        assert slow.answered == 0, "the idle channel's message waited for the slow send to finish"
        h.settle(timeout=PROMPT * 3)
        assert texts(h.sim.messages("C0SLOW")) == ["slow 1", "slow 2"]
