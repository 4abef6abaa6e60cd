import subprocess
import sys

import pytest

from bot.config import ConfigError, load_settings

BASE = {"SLACK_BOT_TOKEN": "xoxb-1-abc", "SLACK_SIGNING_SECRET": "s3cret-value"}


def test_defaults():
    settings = load_settings(BASE)
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("escalator.db")
    assert settings.port == 3000 and not settings.socket_mode


@pytest.mark.parametrize("given, size", [(None, 1024 * 1024), ("65536", 65536), ("512KiB", 512 * 1024),
                                         ("2MiB", 2 * 1024 * 1024), ("2 M", 2 * 1024 * 1024)])
def test_the_body_cap_is_a_size_in_bytes(given, size):
    env = {**BASE, "ESCALATOR_MAX_BODY": given} if given else BASE
    assert load_settings(env).max_body == size


def test_api_url_gets_its_trailing_slash():
    assert load_settings({**BASE, "SLACK_API_URL": "http://127.0.0.1:9/api"}).slack_api_url == "http://127.0.0.1:9/api/"


@pytest.mark.parametrize("env, named", [
    ({"SLACK_SIGNING_SECRET": "x"}, "SLACK_BOT_TOKEN"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
    ({**BASE, "SLACK_BOT_TOKEN": "xoxp-user"}, "SLACK_BOT_TOKEN"),
    ({**BASE, "SLACK_APP_TOKEN": "xoxb-nope"}, "SLACK_APP_TOKEN"),
    ({**BASE, "PORT": "eighty"}, "PORT"),
    ({**BASE, "DATABASE_URL": "escalator.db"}, "DATABASE_URL"),
    ({**BASE, "DATABASE_URL": "postgres-ql://db.example/escalator"}, "DATABASE_URL"),
    ({**BASE, "DATABASE_URL": "sqlite+nodriver:///x.db"}, "DATABASE_URL"),
    ({**BASE, "DATABASE_URL": "postgresql://admin:s3cret/escalator"}, "DATABASE_URL"),  # no @host: 's3cret' a port
    ({**BASE, "ESCALATOR_POLICY": "/nonexistent/policy.yaml"}, "ESCALATOR_POLICY"),
    ({**BASE, "SLACK_API_URL": "slack.com/api/"}, "SLACK_API_URL"),
    ({**BASE, "ESCALATOR_MAX_BODY": "lots"}, "ESCALATOR_MAX_BODY"),
    ({**BASE, "ESCALATOR_MAX_BODY": "1.5MiB"}, "ESCALATOR_MAX_BODY"),
    ({**BASE, "ESCALATOR_MAX_BODY": "2GB"}, "ESCALATOR_MAX_BODY"),
    ({**BASE, "ESCALATOR_MAX_BODY": "100"}, "ESCALATOR_MAX_BODY"),
])
def test_bad_settings_name_the_variable(env, named):
    with pytest.raises(ConfigError, match=named) as refused:
        load_settings(env)
    assert "s3cret" not in str(refused.value)


def test_cli_stops_with_one_line_and_exit_code_2(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "SLACK_SIGNING_SECRET": "x", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--http"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "escalator: SLACK_BOT_TOKEN is not set"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("url, says", [
    ("postgresql+psycopg://escalator:hunter2@127.0.0.1:9/escalator", "Connection refused"),
    ("sqlite:///{tmp}/no/such/dir/x.db", "unable to open database file"),
])
def test_a_database_that_cant_be_reached_stops_the_command_in_one_line(tmp_path, url, says):
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": url.format(tmp=tmp_path)}
    for command in (["db", "upgrade"], ["report"]):
        result = subprocess.run([sys.executable, "-m", "bot.cli", *command], env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1
        assert result.stderr.startswith("escalator: the database (DATABASE_URL) can't be used: ")
        assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert "hunter2" not in result.stderr


def test_version_comes_from_the_installed_distribution():
    from importlib.metadata import version

    result = subprocess.run([sys.executable, "-m", "bot.cli", "--version"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip() == f"escalator {version('escalator')}"
