"""App Home: published when opened, showing the person's tickets and their level's queue."""
from tests.harness import AGENT, AGENT2, SPECIALIST


def test_home_shows_my_tickets_and_my_levels_queue(harness):
    first = harness.new_ticket(user=AGENT, Summary="Export broken", Severity="P3")
    second = harness.new_ticket(user=AGENT2, Summary="Login loop", Severity="P2")
    harness.settle()
    harness.driver.app_home_opened(AGENT)
    home = harness.sim.wait_for(lambda: harness.sim.home(AGENT), message="the Home tab")
    text = home.rendered
    mine = text[text.index("Your open escalations"):text.index("Tier 1 queue")]
    queue = text[text.index("Tier 1 queue"):]
    assert first in mine and second not in mine
    assert "Tier 1 queue* (2 open)" in queue
    assert queue.index(second) < queue.index(first)  # P2 before P3


def test_home_for_someone_with_no_level_or_tickets(harness):
    harness.driver.app_home_opened("U0NEWBIE")
    home = harness.sim.wait_for(lambda: harness.sim.home("U0NEWBIE"), message="the Home tab")
    assert "Nothing open that you opened or acknowledged." in home.rendered
    assert "queue" not in home.rendered


def test_a_burst_of_home_opens_costs_few_publishes(harness):
    harness.runtime.worker.stop()  # hold delivery while the burst comes in
    for _ in range(5):
        harness.runtime.home.publish(SPECIALIST)
    from bot.delivery import OutboxWorker

    worker = OutboxWorker(harness.runtime.sessions, harness.runtime.worker.client, harness.delivery,
                          harness.runtime.worker.renderers)
    assert worker.drain(timeout=5)
    assert harness.sim.count("views.publish") == 1
    assert harness.sim.home(SPECIALIST) is not None
