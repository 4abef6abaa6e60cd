"""Bad input gets a clear message where the person is, and changes nothing."""
import json
import logging
import threading
import time
from urllib.parse import urlencode

from sqlalchemy import func, select

from bot.ids import ActionId
from bot.models import OutboxMessage, ProcessedEvent, Ticket
from tests.harness import AGENT, AGENT2, CHANNELS, MANAGER, SUPPORT

HOSTILE = "Refund now <!channel> & <@U123> <https://evil.example|click> <!subteam^S1>"


def ticket_count(harness) -> int:
    with harness.runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(Ticket))


def command_body(harness, text="") -> bytes:
    return urlencode({"command": "/escalate", "text": text, "user_id": AGENT, "channel_id": SUPPORT,
                      "team_id": "T0TEST", "trigger_id": harness.sim.new_trigger_id(AGENT),
                      "response_url": harness.sim.new_response_url(channel=SUPPORT, user=AGENT)}).encode()


def test_unsigned_and_stale_requests_are_refused(harness):
    body = command_body(harness)
    unsigned = harness.driver.send_raw(body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert unsigned.status == 401
    forged = harness.driver.send_raw(body, {"Content-Type": "application/x-www-form-urlencoded",
                                            "X-Slack-Request-Timestamp": str(int(time.time())),
                                            "X-Slack-Signature": "v0=" + "0" * 64})
    assert forged.status == 401
    stale_at = str(int(time.time()) - 6 * 60)
    stale = harness.driver.send_raw(body, {"Content-Type": "application/x-www-form-urlencoded",
                                           "X-Slack-Request-Timestamp": stale_at,
                                           "X-Slack-Signature": harness.driver.sign(body, stale_at)})
    assert stale.status == 401
    assert harness.sim.views_opened() == [] and ticket_count(harness) == 0


def test_unknown_ticket_key_gets_a_clear_ephemeral(sqlite_harness):
    harness = sqlite_harness
    harness.driver.command(AGENT, SUPPORT, "ESC-999999")
    harness.driver.command(AGENT, SUPPORT, "status ESC-424242")
    missing_escalate, missing_status = harness.ephemeral_texts(AGENT, SUPPORT)
    assert "There is no ticket ESC-999999" in missing_escalate
    assert "There is no ticket ESC-424242" in missing_status
    assert harness.sim.views_opened() == []


def test_nonsense_gets_the_usage_never_a_stack_trace(sqlite_harness):
    harness = sqlite_harness
    harness.driver.command(AGENT, SUPPORT, "nonsense <!channel>")
    harness.driver.command(AGENT, SUPPORT, "list everyone")
    harness.driver.command(AGENT, SUPPORT, "status")
    nonsense, bad_list, bad_status = harness.ephemeral_texts(AGENT, SUPPORT)
    assert "I don't know `nonsense &lt;!channel&gt;`" in nonsense and "/escalate status ESC-12" in nonsense
    assert "`/escalate list` takes `mine` or a level" in bad_list
    assert "takes a ticket key" in bad_status
    assert "Traceback" not in nonsense + bad_list + bad_status


def submit_new(harness, values: dict):
    view = harness.open_modal()
    answer = harness.driver.submit_view(AGENT, view.id, values, enforce_required=False)
    assert answer.status == 200
    return answer.json or {}


def test_empty_summary_is_an_inline_error(harness):
    answer = submit_new(harness, {"Summary": "   ", "Severity": "P2"})
    assert answer["response_action"] == "errors"
    assert answer["errors"] == {"summary": "Describe the problem in a sentence or two."}
    assert ticket_count(harness) == 0


def test_revenue_must_be_a_non_negative_number(harness):
    for typed, message in (("abc", "Enter an amount as a number"), ("-5", "can't be negative")):
        answer = submit_new(harness, {"Summary": "Billing broken", "Severity": "P2", "Revenue at risk": typed})
        assert answer["response_action"] == "errors"
        assert message in answer["errors"]["revenue"]
    assert ticket_count(harness) == 0
    accepted = submit_new(harness, {"Summary": "Billing broken", "Severity": "P2", "Revenue at risk": "12,500.50"})
    assert accepted["response_action"] == "update"
    with harness.runtime.sessions() as session:
        assert float(session.scalars(select(Ticket)).one().revenue_at_risk) == 12500.50


def test_a_5000_character_summary_is_kept_whole_and_shown_cut(harness):
    summary = ("Long report. " * 400)[:5000]
    key = harness.new_ticket(Summary=summary)
    briefing = harness.briefing(key)  # Slack (the simulator) accepted it: within Block Kit limits
    section = briefing.blocks[1]["text"]["text"]
    assert len(section) <= 3000 and section.endswith("…")
    with harness.runtime.sessions() as session:
        assert len(session.scalars(select(Ticket)).one().summary) == 5000


def test_hostile_text_is_shown_escaped_and_pings_no_one(harness):
    key = harness.new_ticket(Summary=HOSTILE, Customer="<!here> Corp", **{"Business risk": ["VIP customer"],
                             "Steps taken": "Tried <@U999> & <!everyone>"})
    briefing = harness.briefing(key)
    ping = harness.sim.wait_for(lambda: harness.sim.find_message(key, channel=CHANNELS["management"]),
                                message="the ping")
    harness.driver.command(AGENT, SUPPORT, f"status {key}")
    status = harness.sim.ephemerals(channel=SUPPORT, user=AGENT)[-1]
    for message in (briefing, ping, status):
        raw = json.dumps({"text": message.text, "blocks": message.blocks})
        for dangerous in ("<!channel>", "<@U123>", "<https://evil.example", "<!subteam", "<!here>",
                          "<!everyone>", "<@U999>"):
            assert dangerous not in raw, (dangerous, raw)
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;https://evil.example|click&gt;" in briefing.rendered
    assert f"<@{MANAGER}>" in ping.rendered  # our own mention still works


def test_the_same_event_delivered_twice_changes_nothing_twice(harness, caplog):
    key = harness.new_ticket()
    briefing = harness.briefing(key)
    ts = harness.sim.post_as_user(AGENT2, CHANNELS["tier1"], "looking", thread_ts=briefing.ts)
    event = {"type": "message", "channel": CHANNELS["tier1"], "user": AGENT2, "text": "looking", "ts": ts,
             "thread_ts": briefing.ts, "channel_type": "channel"}
    with caplog.at_level(logging.INFO, logger="escalator.handlers"):
        first = harness.driver.event(event, event_id="Ev0SAME")
        again = harness.driver.event(event, event_id="Ev0SAME", retry_num=1)
    assert first.status == again.status == 200
    assert "event Ev0SAME already handled" in caplog.text
    harness.settle()
    acknowledgments = [t for t in harness.thread_texts(briefing) if "Acknowledged by" in t]
    assert len(acknowledgments) == 1
    with harness.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1


def test_two_people_clicking_acknowledge_at_once_get_one_outcome(harness):
    key = harness.new_ticket()
    briefing = harness.briefing(key)
    barrier = threading.Barrier(2)

    def click(user):
        barrier.wait()
        harness.driver.click(user, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE)

    threads = [threading.Thread(target=click, args=(user,)) for user in (AGENT, AGENT2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    harness.settle()
    acknowledgments = [t for t in harness.thread_texts(briefing) if "Acknowledged by" in t]
    assert len(acknowledgments) == 1
    loser = AGENT2 if AGENT in acknowledgments[0] else AGENT
    told = harness.sim.wait_for(lambda: harness.ephemeral_texts(loser), message="the loser's notice")
    assert "was already acknowledged by" in told[0]


def test_an_archived_level_channel_leaves_the_ticket_intact_and_is_logged(harness, caplog):
    harness.sim.set_archived(CHANNELS["tier1"])
    with caplog.at_level(logging.ERROR, logger="escalator.delivery"):
        key = harness.new_ticket(Summary="Nobody will see this briefing")
        harness.settle()
    assert f"{key}" in caplog.text and CHANNELS["tier1"] in caplog.text and "is_archived" in caplog.text
    with harness.runtime.sessions() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert (ticket.summary, ticket.level, ticket.status) == ("Nobody will see this briefing", "tier1", "open")
        failed = session.scalars(select(OutboxMessage).where(OutboxMessage.status == "failed")).all()
        assert [row.channel for row in failed] == [CHANNELS["tier1"]]
