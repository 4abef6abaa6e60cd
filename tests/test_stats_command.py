"""`/escalate stats [7d|30d|90d]` through the real endpoint and the fake Slack: the key
figures, ephemeral, for managers only."""
from decimal import Decimal

from bot.forms import NewTicket, Resolution
from tests.harness import AGENT, MANAGER, SUPPORT


def open_and_resolve(harness, count):
    desk = harness.runtime.desk
    for n in range(count):
        ticket = desk.open_ticket(NewTicket(f"Case {n}", "", "P3", "one_user", "known_issue", "", Decimal(0),
                                            frozenset()), requester_id=AGENT)
        if n == 0:
            desk.resolve(ticket.id, Resolution("fixed", "Bug", False, None, None, None), AGENT)


def answer_to(harness, user):
    """The one ephemeral answer (the figures come by response_url after the ack)."""
    harness.sim.wait_for(lambda: harness.ephemeral_texts(user, SUPPORT), message="the answer to /escalate stats")
    [answer] = harness.ephemeral_texts(user, SUPPORT)
    return answer


def test_a_manager_sees_the_key_figures_ephemerally(harness):
    open_and_resolve(harness, 3)
    harness.driver.command(MANAGER, SUPPORT, "stats 7d")
    answer = answer_to(harness, MANAGER)
    assert "Escalation figures, last 7d" in answer
    assert "*Tickets opened*\n3" in answer and "*Tickets resolved*\n1" in answer
    assert "*First-contact resolution*\n100.0 %" in answer
    assert "Tier 1: 3 arrived" in answer
    assert not [m for channel in harness.sim.channels.values() for m in channel.messages
                if "Escalation figures" in str(m)]  # nothing posted for everyone


def test_stats_default_to_30_days(harness):
    open_and_resolve(harness, 1)
    harness.driver.command(MANAGER, SUPPORT, "stats")
    assert "last 30d" in answer_to(harness, MANAGER)


def test_someone_else_is_refused_and_told_who_may(harness):
    open_and_resolve(harness, 1)
    harness.driver.command(AGENT, SUPPORT, "stats 30d")
    answer = answer_to(harness, AGENT)
    assert "Only Management (<@U0MGR1>) can see `/escalate stats`." in answer
    assert "Tickets opened" not in answer


def test_an_unknown_period_gets_the_usage(harness):
    harness.driver.command(MANAGER, SUPPORT, "stats 1y")
    answer = answer_to(harness, MANAGER)
    assert "`/escalate stats` takes `7d`, `30d`, `90d`" in answer


def test_a_quiet_period_says_so(harness):
    harness.driver.command(MANAGER, SUPPORT, "stats 90d")
    answer = answer_to(harness, MANAGER)
    assert "No escalation activity since" in answer
