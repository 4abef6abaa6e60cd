"""`escalator demo`: a full escalation played offline against the built-in Slack simulator.

The real bot runs: its HTTP endpoint, signed requests, the outbox worker, a temporary
SQLite database. Only Slack is simulated. The transcript shows what each channel saw.
"""
from __future__ import annotations

import logging
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bot.config import Settings
from bot.delivery import DeliveryOptions
from bot.ids import ActionId
from bot.policy import load_policy
from bot.runtime import build_app, build_runtime
from bot.server import BackgroundServer, create_asgi_app
from bot.simulator import FakeSlack, SlackDriver

SECRET = "demo-signing-secret"
SUPPORT_CHANNEL = "C0SUPPORT"
NAMES = {"U0AGENT1": "ana (Tier 1)", "U0AGENT2": "ben (Tier 1)", "U0SPEC1": "sam (Tier 2)",
         "U0ENG1": "eli (Tier 3)", "U0MGR1": "mia (manager)", "U0CEO1": "cleo (CEO)"}


def run_demo(out=print) -> int:
    logging.basicConfig(level=logging.WARNING)
    policy = load_policy()
    with tempfile.TemporaryDirectory() as workdir, FakeSlack(token="xoxb-demo") as sim:
        sim.add_channel(SUPPORT_CHANNEL, "support")
        for key, level in policy.levels.items():
            sim.add_channel(level.channel, key.replace("management", "mgmt"))
        for user, name in NAMES.items():
            sim.add_user(user, name=name.split()[0], real_name=name)
        settings = Settings(bot_token="xoxb-demo", signing_secret=SECRET, slack_api_url=sim.url,
                            database_url=f"sqlite:///{Path(workdir) / 'demo.db'}")
        runtime = build_runtime(settings, policy=policy, delivery=DeliveryOptions(
            poll_interval=0.05, channel_interval=timedelta(milliseconds=50)))
        server = BackgroundServer(create_asgi_app(runtime, build_app(runtime))).start()
        runtime.worker.start()
        try:
            _play(SlackDriver(server.url + "/slack/events", SECRET, sim), sim, runtime, policy, out)
        finally:
            server.stop()
            runtime.worker.stop()
            runtime.stop()
        out("\n" + "=" * 72 + "\nWhat Slack saw\n" + "=" * 72)
        out(sim.transcript())
    return 0


def _play(driver: SlackDriver, sim: FakeSlack, runtime, policy, out) -> None:
    tier1, tier2 = policy.level("tier1").channel, policy.level("tier2").channel

    out("1. ana types /escalate in #support and fills the New escalation modal (P2, VIP, 18,000 at risk).")
    driver.command("U0AGENT1", SUPPORT_CHANNEL, "")
    modal = sim.wait_for(lambda: sim.open_modal("U0AGENT1"), message="the modal")
    answer = driver.submit_view("U0AGENT1", modal.id, {
        "Summary": "Checkout returns HTTP 500 for ACME's buyer account since 09:40",
        "Customer": "ACME GmbH", "Severity": "P2", "Impact": "One user", "Complexity": "Known issue",
        "Steps taken": "Cleared CDN cache; reproduced with a test card; status page is green",
        "Revenue at risk": "18000", "Business risk": ["VIP customer"]})
    confirmation = answer.json["view"]["blocks"][0]["text"]["text"]
    key = confirmation.split("*")[1]
    out(f"   → the modal answers: {confirmation}")

    briefing = sim.wait_for(lambda: next((m for m in sim.messages(tier1) if key in m.rendered), None),
                            message="the briefing")
    out("2. The briefing lands in #tier1; management is pinged in #mgmt (VIP, revenue at risk).")
    sim.wait_for(lambda: sim.find_message(key, channel=policy.level("management").channel), message="the ping")

    out("3. ben clicks Acknowledge on the briefing.")
    driver.click("U0AGENT2", tier1, briefing.ts, ActionId.ACKNOWLEDGE)
    sim.wait_for(lambda: any("Acknowledged" in r.rendered for r in sim.replies(tier1, briefing.ts)),
                 message="the acknowledgment")

    out(f"4. ben can't diagnose it: /escalate {key} → Tier 2, trigger Complexity.")
    driver.command("U0AGENT2", SUPPORT_CHANNEL, key)
    modal = sim.wait_for(lambda: sim.open_modal("U0AGENT2"), message="the escalate modal")
    driver.submit_view("U0AGENT2", modal.id, {
        "Trigger": "Complexity", "Reason": "Payment provider returns an unknown error code; needs a specialist"})
    tier2_briefing = sim.wait_for(lambda: next((m for m in sim.messages(tier2) if key in m.rendered), None),
                                  message="the Tier 2 briefing")

    _wait_delivered(runtime)
    out("5. sam, in Tier 2, replies in the briefing's thread: that acknowledges it.")
    driver.thread_reply("U0SPEC1", tier2, tier2_briefing.ts, "Looking at the provider logs now.")
    sim.wait_for(lambda: any("Acknowledged" in r.rendered and r.user != "U0SPEC1"
                             for r in sim.replies(tier2, tier2_briefing.ts)), message="the reply acknowledgment")
    _wait_delivered(runtime)
    driver.command("U0SPEC1", SUPPORT_CHANNEL, f"status {key}")
    out(f"6. sam asks /escalate status {key} (answered privately, shown at the end).")


def _wait_delivered(runtime, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while runtime.worker.pending() and time.monotonic() < deadline:
        time.sleep(0.02)
