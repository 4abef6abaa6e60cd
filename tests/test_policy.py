from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.durations import format_duration, parse_duration
from bot.policy import PolicyError, load_policy

VALID = """
timezone: Europe/Berlin
business_hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00", holidays: DE}
sweep_interval: 30s
warn_at: 0.8
revenue_threshold: 5000
levels:
  tier1:      {name: Frontline, channel: C0TIER1, members: [U0AGENT1]}
  tier2:      {name: Tier 2, channel: C0TIER2, members: [U0SPEC1]}
  tier3:      {name: Tier 3, channel: C0TIER3, members: [U0ENG1]}
  management: {name: Management, channel: C0MGMT, members: [U0MGR1]}
  executive:  {name: Executive, channel: C0EXEC, members: [U0CEO1]}
  planning:   {name: Planning, channel: C0PLAN, members: []}
severities:
  P1: {response: 1h, update_every: 30m, entry: tier3}
  P2: {response: 4h, update_every: 2h, entry: tier1}
  P3: {response: 8h, update_every: 1d, entry: tier1}
  P4: {response: 24h, entry: planning}
time_limits: {tier1: 4h, tier2: 8h}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def test_builtin_policy_carries_the_framework_defaults():
    policy = load_policy()
    assert policy.severities["P1"].entry == "tier3"
    assert policy.severities["P4"].entry == "planning"
    assert policy.severities["P2"].response == timedelta(hours=4)
    assert policy.severities["P4"].update_every is None
    assert policy.time_limits == {"tier1": timedelta(hours=4), "tier2": timedelta(hours=8)}
    assert policy.next_level("tier1") == "tier2" and policy.next_level("management") == "executive"
    assert policy.escalation_targets("tier2") == ["tier3", "management"]
    assert policy.escalation_targets("tier1") == ["tier2", "management"]
    assert policy.escalation_targets("tier1", suggested="tier3") == ["tier2", "tier3", "management"]
    assert policy.escalation_targets("management") == ["executive"]
    assert [rung.to for rung in policy.criteria] == ["tier2", "tier3"]


def test_a_valid_file_loads_with_its_own_values(tmp_path):
    policy = load_policy(write(tmp_path, VALID))
    assert policy.levels["tier1"].name == "Frontline"
    assert policy.business_hours.days == ("mon", "tue", "wed", "thu", "fri")
    assert policy.business_hours.holidays == "DE"
    assert policy.sweep_interval == timedelta(seconds=30)
    assert float(policy.revenue_threshold) == 5000


def test_missing_channel_is_named_by_its_path(tmp_path):
    path = write(tmp_path, VALID.replace("channel: C0TIER2, ", ""))
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert "levels.tier2.channel: missing" in raised.value.problems


def test_bad_duration_is_named_with_a_hint(tmp_path):
    path = write(tmp_path, VALID.replace("response: 4h", "response: 4 hours"))
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert any(p.startswith("severities.P2.response: bad duration '4 hours'") for p in raised.value.problems)


@pytest.mark.parametrize("change, expected", [
    (("time_limits: {tier1: 4h, tier2: 8h}", "time_limits: {tier1: 4h, tier2: 8h}\ncriteria: {tier1: {to: tier2, impact: [lots]}}"),
     "criteria.tier1.impact: must list some of"),
    (("timezone: Europe/Berlin", "timezone: Mars/Olympus"), "timezone: unknown time zone"),
    (("warn_at: 0.8", "warn_at: 2"), "warn_at: must be a fraction"),
    (("entry: tier3", "entry: tier9"), "severities.P1.entry: unknown level 'tier9'"),
    (("holidays: DE", "holidays: XX"), "business_hours.holidays: unknown country code"),
    (("members: [U0SPEC1]", "members: [bob]"), "levels.tier2.members[0]: 'bob' is not a Slack user id"),
    (("  P3: {response: 8h, update_every: 1d, entry: tier1}\n", ""), "severities.P3: missing"),
])
def test_each_mistake_names_its_field(tmp_path, change, expected):
    path = write(tmp_path, VALID.replace(*change))
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert any(expected in problem for problem in raised.value.problems), raised.value.problems


def test_broken_yaml_says_where(tmp_path):
    with pytest.raises(PolicyError) as raised:
        load_policy(write(tmp_path, "levels: [unclosed\n"))
    assert raised.value.problems[0].startswith("line ")


def test_policy_check_cli_exit_codes_and_messages(tmp_path, capsys):
    assert main(["policy", "check", str(write(tmp_path, VALID))]) == 0
    assert "OK" in capsys.readouterr().out
    bad = write(tmp_path, VALID.replace("channel: C0MGMT, ", "").replace("30s", "soon"))
    assert main(["policy", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "levels.management.channel: missing" in err
    assert "sweep_interval: bad duration 'soon'" in err


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("30m", 1800), ("4h", 14400), ("1d", 86400)])
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "4", "h", "-1h", "0m", "1.5h", "4 hours", None])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration_is_short():
    assert format_duration(timedelta(hours=1, minutes=30, seconds=5)) == "1h 30m"
    assert format_duration(timedelta(seconds=-45)) == "-45s"
