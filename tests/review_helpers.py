"""Shared by the monthly review's tests: a policy with the review on, a month of generated
history (bot.quality.sample_data, as `escalator demo --month` uses), and what Slack shows."""
from __future__ import annotations

import copy
from collections import namedtuple
from datetime import date
from importlib import resources

import yaml

from bot.policy import Policy, parse_policy
from bot.quality import sample_data
from bot.quality.review_schedule import month_range

MGMT = "C0MGMT"
Chart = namedtuple("Chart", "filename title png")
CHARTS = [Chart("volume.png", "Weekly volume", b"\x89PNG volume"), Chart("sla.png", "SLA", b"\x89PNG sla")]


def review_policy_data(at: str = "09:00", **hours) -> dict:
    data = yaml.safe_load(resources.files("bot").joinpath("default_policy.yaml").read_text())
    data["review"] = {"level": "management", "at": at}
    data.update(hours)
    return copy.deepcopy(data)


def review_policy(at: str = "09:00", **hours) -> Policy:
    return parse_policy(review_policy_data(at, **hours))


def generate_month(engine, policy: Policy, month: date, tickets: int, seed: int) -> None:
    """A month of tickets written as the desk would have (one write transaction)."""
    start, end = month_range(policy, month)
    with engine.connect().execution_options(escalator_writes=True) as connection, connection.begin():
        sample_data.generate(connection, policy, tickets=tickets, start=start, end=end, seed=seed)


def two_charts(metrics, level_names):
    return list(CHARTS)


def review_messages(sim, channel: str = MGMT) -> list:
    return [m for m in sim.messages(channel) if m.text.startswith("Escalation review for")]


def chart_shares(sim, channel: str = MGMT) -> list:
    """The messages that shared files in the channel (roots and replies)."""
    return [m for m in sim.all_posts(channel) if m.files]
