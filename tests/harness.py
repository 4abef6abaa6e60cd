"""The bot, really running: its HTTP endpoint on 127.0.0.1, its outbox worker, and the
Slack simulator as the Web API. Tests act as people through signed requests."""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from bot.config import Settings
from bot.delivery import DeliveryOptions
from bot.models import SlackMessage
from bot.policy import load_policy
from bot.runtime import build_app, build_runtime, start_background
from bot.server import BackgroundServer, create_asgi_app
from bot.simulator import FakeSlack, SlackDriver
from bot.simulator.queries import WAIT, scaled

SECRET = "test-signing-secret-0123456789"
TOKEN = "xoxb-test-token"
SUPPORT = "C0SUPPORT"  # where agents type commands
AGENT, AGENT2, SPECIALIST, ENGINEER, MANAGER, CEO = "U0AGENT1", "U0AGENT2", "U0SPEC1", "U0ENG1", "U0MGR1", "U0CEO1"
OUTSIDER = "U0OUTSIDER"
CHANNELS = {"tier1": "C0TIER1", "tier2": "C0TIER2", "tier3": "C0TIER3", "management": "C0MGMT",
            "executive": "C0EXEC", "planning": "C0PLAN"}

def with_level_setting(setting: str, by_level: dict, policy=None):
    """The policy (the built-in one unless given) with `setting` changed for some levels,
    e.g. with_level_setting("capacity", {"tier1": 3})."""
    policy = policy or load_policy()
    levels = dict(policy.levels)
    for key, value in by_level.items():
        levels[key] = replace(levels[key], **{setting: value})
    return replace(policy, levels=levels)


# Short pacing so tests run quickly; pacing itself is tested with the simulator's limiter.
FAST_DELIVERY = DeliveryOptions(poll_interval=0.05, channel_interval=timedelta(milliseconds=20),
                                max_backoff=1.0, lease=timedelta(seconds=5))


class Harness:
    def __init__(self, database_url: str, *, policy=None, delivery: DeliveryOptions | None = None,
                 start_worker: bool = True, scheduler: bool = False, settings: dict | None = None):
        self.database_url = database_url
        self.extra_settings = settings or {}  # e.g. public_url, secret
        self.policy = policy or load_policy()
        self.delivery = delivery or FAST_DELIVERY
        self.start_worker = start_worker
        self.scheduler = scheduler

    def __enter__(self) -> Harness:
        self.sim = FakeSlack(token=TOKEN).start()
        self.sim.add_channel(SUPPORT, "support")
        for key, level in self.policy.levels.items():
            self.sim.add_channel(level.channel, key)
        settings = Settings(bot_token=TOKEN, signing_secret=SECRET, slack_api_url=self.sim.url,
                            database_url=self.database_url, **self.extra_settings)
        self.runtime = build_runtime(settings, policy=self.policy, delivery=self.delivery)
        self.app = build_app(self.runtime)
        self.server = BackgroundServer(create_asgi_app(self.runtime, self.app)).start()
        self.driver = SlackDriver(self.server.url + "/slack/events", SECRET, self.sim)
        if self.scheduler:
            start_background(self.runtime)  # the worker and the scheduled jobs, as `serve` runs them
        elif self.start_worker:
            self.runtime.worker.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()
        if self.start_worker and not self.scheduler:
            self.runtime.worker.stop()
        self.runtime.stop()
        self.sim.stop()

    # --- acting as people ---------------------------------------------------
    def open_modal(self, user: str = AGENT, channel: str = SUPPORT):
        before = len(self.sim.views_opened(user))
        response = self.driver.command(user, channel, "")
        assert response.status == 200, response.body
        return self.sim.wait_for(lambda: self.sim.views_opened(user)[before:] and self.sim.views_opened(user)[-1],
                                 message="the New escalation modal to open")

    def new_ticket(self, user: str = AGENT, channel: str = SUPPORT, **fields) -> str:
        """Fill the New escalation modal by its labels; returns the ticket key."""
        values = {"Summary": "Checkout fails with a 500", "Severity": "P2"}
        values.update(fields)
        view = self.open_modal(user, channel)
        answer = self.driver.submit_view(user, view.id, values)
        assert answer.status == 200, answer.body
        body = answer.json or {}
        assert body.get("response_action") == "update", f"modal not accepted: {body}"
        text = str(body["view"]["blocks"][0]["text"]["text"])
        return text.split("*")[1]  # ":white_check_mark: *ESC-1* is open …"

    def modal_from(self, user: str, message, action_id: str):
        """Click a button that opens a modal; returns the modal as Slack shows it."""
        before = len(self.sim.views_opened(user))
        answer = self.driver.click(user, message.channel, message.ts, action_id)
        assert answer.status == 200, answer.body
        return self.sim.wait_for(lambda: self.sim.views_opened(user)[before:] and self.sim.views_opened(user)[-1],
                                 message=f"the modal behind {action_id}")

    def briefing(self, key: str, level: str = "tier1", timeout: float = WAIT):
        """The briefing as Slack shows it, once the bot has also recorded its ts
        (a reply in its thread only counts from then on)."""
        channel = self.policy.levels[level].channel
        message = self.sim.wait_for(
            lambda: next((m for m in self.sim.messages(channel) if f"{key} ·" in m.rendered), None),
            timeout=timeout, message=f"the {key} briefing in {level}")
        self.wait_recorded(channel, message.ts, timeout)
        return message

    def wait_recorded(self, channel: str, ts: str, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + scaled(timeout)
        while True:
            with self.runtime.sessions() as session:
                if session.scalar(select(SlackMessage.id).where(SlackMessage.channel == channel,
                                                                SlackMessage.ts == ts)):
                    return
            assert time.monotonic() < deadline, f"the bot never recorded message {ts} in {channel}"
            time.sleep(0.02)

    def thread_texts(self, message) -> list[str]:
        return [reply.rendered for reply in self.sim.replies(message.channel, message.ts)]

    def wait_thread(self, message, contains: str, timeout: float = WAIT):
        return self.sim.wait_for(
            lambda: next((t for t in self.thread_texts(message) if contains in t), None),
            timeout=timeout, message=f"a reply containing {contains!r}")

    def settle(self, timeout: float = WAIT) -> None:
        """Wait until the outbox has nothing pending."""
        deadline = time.monotonic() + scaled(timeout)
        while self.runtime.worker.pending():
            assert time.monotonic() < deadline, "outbox did not drain"
            time.sleep(0.02)

    def ephemeral_texts(self, user: str, channel: str | None = None) -> list[str]:
        return [e.rendered for e in self.sim.ephemerals(channel=channel, user=user)]
