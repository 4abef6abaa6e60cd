"""App Home: my tickets, my levels' queues by priority score, counts per level; kept fresh
when a shown ticket changes, without flooding Slack."""
import json

from bot.delivery import OutboxWorker
from bot.forms import parse_new_ticket
from bot.ids import ActionId, BlockId
from tests.harness import AGENT, AGENT2, CHANNELS, SPECIALIST


def test_home_shows_my_tickets_and_my_levels_queue_by_priority(harness):
    first = harness.new_ticket(user=AGENT, Summary="Export broken", Severity="P3")
    second = harness.new_ticket(user=AGENT2, Summary="Login loop", Severity="P2")
    third = harness.new_ticket(user=AGENT2, Summary="Big customer invoices", Severity="P3",
                               **{"Business risk": ["VIP customer"], "Revenue at risk": "50000"})
    harness.settle()
    # AGENT's Home was already published when their ticket opened (it showed one ticket then):
    # wait for the publish that opening the tab asks for, not whichever Home is there
    earlier = harness.sim.home(AGENT).hash
    harness.driver.app_home_opened(AGENT)
    home = harness.sim.wait_for(lambda: (shown := harness.sim.home(AGENT)) and shown.hash != earlier and shown,
                                message="the Home tab published again")
    text = home.rendered
    mine = text[text.index("Your open escalations"):text.index("Tier 1 queue")]
    queue = text[text.index("Tier 1 queue"):]
    assert first in mine and second not in mine
    assert "Open now: Tier 1 *3* · Tier 2 *0*" in text
    assert "Tier 1 queue* (3 open, most urgent first)" in queue
    # P3 + VIP + 50k at risk (50 + 100 + 100) outranks a plain P2 (200), which outranks a plain P3
    assert queue.index(third) < queue.index(second) < queue.index(first)
    assert "priority 250" in queue and "SLA in" in queue


def test_home_for_someone_with_no_level_or_tickets(harness):
    harness.driver.app_home_opened("U0NEWBIE")
    home = harness.sim.wait_for(lambda: harness.sim.home("U0NEWBIE"), message="the Home tab")
    assert "Nothing open that you opened, acknowledged or were assigned." in home.rendered
    assert "queue" not in home.rendered


def test_home_follows_changes_to_my_tickets(harness):
    key = harness.new_ticket(user=AGENT2, Summary="Search is slow")
    home = harness.sim.wait_for(lambda: harness.sim.home(AGENT2), message="the Home after opening")
    harness.sim.wait_for(lambda: key in home.rendered and "Waiting for acknowledgment" in home.rendered,
                         message="the new ticket on Home")
    briefing = harness.briefing(key)
    harness.driver.click(AGENT, CHANNELS["tier1"], briefing.ts, "ticket.acknowledge")
    harness.sim.wait_for(lambda: "Acknowledged" in harness.sim.home(AGENT2).rendered,
                         message="the requester's Home to show the acknowledgment")


def my_escalations(home) -> str:
    text = home.rendered
    return text[text.index("Your open escalations"):text.index("queue*")]


def test_a_ticket_leaves_the_home_of_the_person_who_escalated_it(harness):
    key = harness.new_ticket(user=AGENT, Summary="Invoices doubled")
    briefing = harness.briefing(key)
    harness.driver.click(AGENT2, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE)
    harness.sim.wait_for(lambda: (home := harness.sim.home(AGENT2)) and key in my_escalations(home),
                         message="the ticket on the acknowledger's Home")
    modal = harness.modal_from(AGENT2, briefing, ActionId.ESCALATE)
    harness.driver.submit_view(AGENT2, modal.id, {"Level": "Tier 2", "Trigger": "Complexity", "Reason": "Needs a DBA"})
    # at Tier 2 it is no longer theirs, nor in their Tier 1 queue: their Home says so
    harness.sim.wait_for(lambda: key not in harness.sim.home(AGENT2).rendered,
                         message="the escalated ticket gone from the acknowledger's Home")


def test_a_burst_of_home_refreshes_costs_one_publish(harness):
    harness.runtime.worker.stop()  # hold delivery while the burst comes in
    for _ in range(5):
        harness.runtime.home.publish(SPECIALIST)
    worker = OutboxWorker(harness.runtime.sessions, harness.runtime.worker.client, harness.delivery,
                          harness.runtime.worker.renderers)
    assert worker.drain(timeout=5)
    assert harness.sim.count("views.publish") == 1
    assert harness.sim.home(SPECIALIST) is not None


def test_a_change_while_a_home_is_being_sent_is_published_after_it(harness):
    key = harness.new_ticket(user=AGENT2, Summary="Search is slow")
    harness.settle()
    harness.runtime.worker.stop()
    renderers = dict(harness.runtime.worker.renderers)
    render_home, acknowledged = renderers["home"], []

    def render_then_acknowledge(session, payload):
        view = render_home(session, payload)  # the Home as it was when this publish was claimed
        if not acknowledged:  # someone acknowledges while it is on its way to Slack
            acknowledged.append(harness.runtime.desk.acknowledge(int(key.split("-")[1]), AGENT))
        return view

    renderers["home"] = render_then_acknowledge
    harness.runtime.home.publish(AGENT2)
    worker = OutboxWorker(harness.runtime.sessions, harness.runtime.worker.client, harness.delivery, renderers)
    assert worker.drain(timeout=5)
    assert acknowledged
    assert "Acknowledged" in harness.sim.home(AGENT2).rendered


def test_the_whole_queue_is_ranked_however_long_it_is(harness):
    """The most urgent ticket tops the queue even behind hundreds of older, more severe
    ones, and the queue's header counts every open ticket."""
    harness.runtime.worker.stop()  # only the Home is looked at; the briefings can wait
    desk = harness.runtime.desk
    routine = parse_new_ticket({BlockId.SUMMARY: "Routine slowness", BlockId.CUSTOMER: "Initech",
                                BlockId.SEVERITY: "P2"})
    for _ in range(520):
        desk.open_ticket(routine, requester_id=AGENT2)
    urgent = desk.open_ticket(parse_new_ticket({
        BlockId.SUMMARY: "Payroll export fails for a VIP", BlockId.CUSTOMER: "Globex", BlockId.SEVERITY: "P3",
        BlockId.FLAGS: ["vip"], BlockId.REVENUE: "200000"}), requester_id=AGENT2)
    with harness.runtime.sessions() as session:
        text = json.dumps(harness.runtime.home.render(session, AGENT))
    queue = text[text.index("Tier 1 queue"):]
    assert "Tier 1 queue* (521 open, most urgent first)" in queue
    assert queue.index(urgent.key) < queue.index("Routine slowness")  # P3 + VIP + 200k: 550 against 200
    assert "priority 550" in queue
