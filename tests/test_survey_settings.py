"""ESCALATOR_PUBLIC_URL and ESCALATOR_SECRET (issue 12 §2): the secret is required with the
URL (one line at start, exit 2), and survey tokens are bound to it, to one ticket and
resolution, and to 30 days."""
from datetime import datetime, timedelta, timezone

import pytest

from bot.cli import main
from bot.config import ConfigError, load_settings
from bot.quality.survey_tokens import SurveyLinks

BASE = {"SLACK_BOT_TOKEN": "xoxb-1-abc", "SLACK_SIGNING_SECRET": "s3cret-value"}
SECRET = "a-long-enough-secret-123"


def test_the_public_url_and_secret_are_read():
    settings = load_settings({**BASE, "ESCALATOR_PUBLIC_URL": "https://esc.example.com/", "ESCALATOR_SECRET": SECRET})
    assert settings.public_url == "https://esc.example.com" and settings.secret == SECRET
    assert SECRET not in repr(settings)
    assert load_settings(BASE).public_url is None


@pytest.mark.parametrize("env, named", [
    ({"ESCALATOR_PUBLIC_URL": "https://esc.example.com"}, "ESCALATOR_SECRET is not set"),
    ({"ESCALATOR_PUBLIC_URL": "https://esc.example.com", "ESCALATOR_SECRET": "short"}, "at least 16"),
    ({"ESCALATOR_PUBLIC_URL": "esc.example.com", "ESCALATOR_SECRET": SECRET}, "ESCALATOR_PUBLIC_URL"),
    ({"ESCALATOR_PUBLIC_URL": "https://esc.example.com/<x>", "ESCALATOR_SECRET": SECRET}, "ESCALATOR_PUBLIC_URL"),
])
def test_bad_survey_settings_name_the_variable(env, named):
    with pytest.raises(ConfigError, match=named):
        load_settings({**BASE, **env})


def test_the_cli_stops_with_one_line_and_exit_2(monkeypatch, capsys):
    monkeypatch.setenv("ESCALATOR_PUBLIC_URL", "https://esc.example.com")
    monkeypatch.delenv("ESCALATOR_SECRET", raising=False)
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("escalator: ESCALATOR_SECRET is not set")


NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def test_a_token_names_its_ticket_and_resolution_and_lives_30_days():
    links = SurveyLinks("https://esc.example.com", SECRET)
    token = links.token(12, 2, NOW)
    assert links.url(12, 2, NOW) == f"https://esc.example.com/csat/{token}"
    read = links.read(token, NOW + timedelta(days=29, hours=23))
    assert (read.ticket_id, read.resolution) == (12, 2)
    assert links.read(token, NOW + timedelta(days=30, seconds=1)) is None
    assert links.read(links.token(12, 2, NOW + timedelta(minutes=10)), NOW) is None  # from the future
    assert SurveyLinks("https://esc.example.com", SECRET + "x").read(token, NOW) is None
    ticket, resolution, issued, signature = token.split("-")
    for altered in (f"13-{resolution}-{issued}-{signature}", f"{ticket}-3-{issued}-{signature}",
                    f"{ticket}-{resolution}-{issued}0-{signature}", f"0{token}", token + "A", token.upper()):
        assert links.read(altered, NOW) is None, altered


def test_a_token_is_good_to_the_end_of_its_30th_day_and_from_5_minutes_ahead_of_our_clock():
    """The edges of the rule: issued exactly 30 days ago is still good (expired means *more*
    than 30 days); another server's clock up to 5 minutes ahead of ours is allowed, not more."""
    links = SurveyLinks("https://esc.example.com", SECRET)
    assert links.read(links.token(12, 2, NOW), NOW + timedelta(days=30)) is not None
    assert links.read(links.token(12, 2, NOW + timedelta(minutes=5)), NOW) is not None
    assert links.read(links.token(12, 2, NOW + timedelta(minutes=5, seconds=1)), NOW) is None
