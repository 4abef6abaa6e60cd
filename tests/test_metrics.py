"""GET /metrics, read back as Prometheus would after things a support team lives through:
an escalation, an SLA warning and breach, a Slack outage and a 429 (docs/operations.md)."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.ids import ActionId
from bot.models import utcnow
from bot.simulator import FakeSlack, SocketModeDriver
from bot.simulator.models import iter_elements
from schedules.sla import sweep_sla
from tests.harness import AGENT, AGENT2, CHANNELS, SECRET, SUPPORT, TOKEN, Harness
from tests.test_sla import short_policy, ticket_row

SUMMARY = "Checkout 500s for the Zanzibar account, password hunter2-do-not-log"
CUSTOMER = "Quetzalcoatl Industries"


def scrape(harness: Harness) -> tuple[str, dict]:
    """The /metrics text and its samples: {(name, ((label, value), …)): value}."""
    with urllib.request.urlopen(harness.server.url + "/metrics", timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=")  # the text exposition format
        text = answer.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return text, samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: dict, name: str, **labels) -> float:
    """Summed over the labels not given."""
    return sum(v for (n, found), v in samples.items()
               if n == name and all(dict(found).get(k) == want for k, want in labels.items()))


def wait_until(moment) -> None:
    while utcnow() < moment:
        time.sleep(0.05)


def test_metrics_after_an_escalation_a_warning_a_breach_an_outage_and_a_429(database_url):
    severities = dict(short_policy().severities)
    policy = short_policy(warn_at=0.5, time_limits={"tier1": "1h", "tier2": "1h"})
    # 10 s: the warning (at 5 s) leaves a loaded machine 5 s to sweep before the breach is due
    policy = replace(policy, severities={**severities, "P2": replace(severities["P2"], response=timedelta(seconds=10),
                                                                     update_every=None)})
    with Harness(database_url, policy=policy) as bot:
        key = bot.new_ticket(Summary=SUMMARY, Customer=CUSTOMER, Severity="P2", **{"Business risk": ["VIP customer"]})
        briefing = bot.briefing(key)
        opened = ticket_row(bot).created_at

        wait_until(opened + timedelta(seconds=5.1))  # past the warning (50% of 10 s)
        sweep_sla(bot.runtime)
        bot.wait_thread(briefing, "warning")

        bot.sim.throttle_next("chat.postMessage", retry_after=2)
        wait_until(opened + timedelta(seconds=10.1))  # past the breach
        bot.sim.outage(status=503, seconds=1.5, exclude=("auth.test",))
        sweep_sla(bot.runtime)
        bot.wait_thread(briefing, "breached", timeout=15)
        bot.settle(timeout=15)
        bot.driver.click(AGENT2, CHANNELS["tier1"], briefing.ts, ActionId.ACKNOWLEDGE)
        bot.settle()

        text, samples = scrape(bot)

    # the escalation: requests by kind and handler, deliveries by method and result
    assert value(samples, "escalator_slack_request_duration_seconds_count", kind="command", handler="/escalate") == 1
    assert value(samples, "escalator_slack_request_duration_seconds_count", kind="view", handler="ticket.new") == 1
    assert value(samples, "escalator_slack_request_duration_seconds_count",
                 kind="action", handler=ActionId.ACKNOWLEDGE.value) == 1
    assert value(samples, "escalator_outbox_deliveries_total", method="chat.postMessage", result="sent") >= 4
    # the outage and the 429: retried deliveries, Slack's errors by code, the wait it asked for
    assert value(samples, "escalator_outbox_deliveries_total", method="chat.postMessage", result="retry") >= 1
    assert value(samples, "escalator_outbox_deliveries_total", method="chat.postMessage", result="rate_limited") == 1
    assert value(samples, "escalator_slack_api_errors_total", method="chat.postMessage",
                 error="service_unavailable") >= 1
    assert value(samples, "escalator_slack_api_errors_total", method="chat.postMessage", error="ratelimited") == 1
    assert value(samples, "escalator_slack_rate_limited_total", method="chat.postMessage") == 1
    assert value(samples, "escalator_slack_retry_after_seconds_count") == 1
    assert value(samples, "escalator_slack_retry_after_seconds_sum") == 2
    # the SLA: two sweeps timed; one warning, two breach alerts (thread + management: P2 VIP)
    assert value(samples, "escalator_sla_sweep_duration_seconds_count") == 2
    assert value(samples, "escalator_sla_alerts_sent_total", kind="warning") == 1
    assert value(samples, "escalator_sla_alerts_sent_total", kind="breach") == 2
    assert value(samples, "escalator_sla_alert_lateness_seconds_count", kind="breach") == 2
    # the breach alerts waited out the outage (and the 429's 2 s): each over a second late
    assert value(samples, "escalator_sla_alert_lateness_seconds_bucket", kind="breach", le="1.0") == 0
    assert value(samples, "escalator_sla_alert_lateness_seconds_sum", kind="breach") >= 2
    # from the database: the ticket is open at Tier 1, nothing is left to deliver
    assert value(samples, "escalator_database_up") == 1
    assert value(samples, "escalator_open_tickets", level="tier1", severity="P2") == 1
    assert total(samples, "escalator_open_tickets") == 1
    assert samples[("escalator_open_tickets", (("level", "tier3"), ("severity", "P1")))] == 0  # every pair is shown
    assert value(samples, "escalator_outbox_pending_messages") == 0
    assert value(samples, "escalator_outbox_oldest_pending_age_seconds") == 0
    # never a secret or what a person typed
    for private in (TOKEN, SECRET, "hunter2", "Zanzibar", "Quetzalcoatl", key):
        assert private not in text


def test_each_process_counts_its_own_work_and_the_database_gauges_agree(database_url):
    """Two bots on one database (as two serve processes), each with its own registry; no
    worker runs, so what the escalation owes Slack stays in the outbox."""
    with Harness(database_url, start_worker=False) as first, Harness(database_url, start_worker=False) as second:
        first.new_ticket(Severity="P1")
        time.sleep(0.05)  # the oldest row has an age
        _, one = scrape(first)
        _, two = scrape(second)
    for gauge in ("escalator_outbox_pending_messages", "escalator_open_tickets"):
        assert total(one, gauge) == total(two, gauge) > 0, gauge
    assert value(one, "escalator_open_tickets", level="tier3", severity="P1") == 1
    assert value(two, "escalator_open_tickets", level="tier3", severity="P1") == 1
    oldest = [value(s, "escalator_outbox_oldest_pending_age_seconds") for s in (one, two)]
    assert min(oldest) > 0 and abs(oldest[0] - oldest[1]) < 30  # the same row, read a moment apart
    assert value(one, "escalator_outbox_claimed_messages") == value(two, "escalator_outbox_claimed_messages") == 0
    assert total(one, "escalator_slack_request_duration_seconds_count") == 2  # the command and the submission
    assert total(two, "escalator_slack_request_duration_seconds_count") == 0


def test_a_request_no_listener_takes_is_labelled_unhandled_not_by_its_ids(database_url):
    with Harness(database_url) as bot:
        key = bot.new_ticket()
        briefing = bot.briefing(key)
        acknowledge = next(element for _, element in iter_elements(briefing.blocks)
                           if element.get("action_id") == ActionId.ACKNOWLEDGE)
        answer = bot.driver.click(AGENT2, CHANNELS["tier1"], briefing.ts, "made.up.action-for-metrics",
                                  value=acknowledge["value"], block_id="ticket_actions")
        assert answer.status == 404
        forged = bot.driver.click(AGENT2, CHANNELS["tier1"], briefing.ts, "forged.action-for-metrics",
                                  value="not-a-value-we-wrote", block_id="ticket_actions")
        assert forged.status == 400
        text, samples = scrape(bot)
    assert value(samples, "escalator_slack_request_duration_seconds_count", kind="action", handler="unhandled") == 2
    assert "made.up.action-for-metrics" not in text and "forged.action-for-metrics" not in text


@pytest.mark.parametrize("path", ["/metrics", "/healthz"])
def test_operations_routes_refuse_other_methods(database_url, path):
    with Harness(database_url, start_worker=False) as bot:
        request = urllib.request.Request(bot.server.url + path, data=b"x", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405


def test_serve_in_socket_mode_serves_metrics_on_the_metrics_port(tmp_path):
    """`escalator serve --metrics-port P` as operators run it: a real process in Socket Mode,
    whose envelopes are counted like HTTP requests."""
    from tests.ports import free_port
    from tests.test_socket_mode import serve_env

    port = free_port()
    with FakeSlack(token=TOKEN) as sim:
        sim.add_channel(SUPPORT, "support")
        server = sim.enable_socket_mode()
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                                    "--metrics-port", str(port)],
                                   env=serve_env(sim, f"sqlite:///{tmp_path / 'socket.db'}", sim.app_token),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            server.wait_for_connections(1, timeout=60)
            SocketModeDriver(sim).command(AGENT, SUPPORT, "help")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
                text = answer.read().decode()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
                assert answer.status == 200
        finally:
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=15)[0]
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert value(samples, "escalator_slack_request_duration_seconds_count", kind="command", handler="/escalate") == 1
    assert value(samples, "escalator_database_up") == 1
    assert process.returncode == 0, output
    assert f"serving /metrics and /healthz on http://127.0.0.1:{port}" in output


def test_a_metrics_port_that_is_taken_stops_serve_with_one_line(tmp_path):
    from tests.test_socket_mode import serve_env

    with FakeSlack(token=TOKEN) as sim, socket.create_server(("127.0.0.1", 0)) as taken:
        sim.enable_socket_mode()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                                 "--metrics-port", str(port)],
                                env=serve_env(sim, f"sqlite:///{tmp_path / 'taken.db'}", sim.app_token),
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"escalator: --metrics-port {port}: Address already in use" in result.stderr
    assert "Traceback" not in result.stderr
