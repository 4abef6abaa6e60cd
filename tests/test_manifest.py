import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from bot.ids import CallbackId

ROOT = Path(__file__).resolve().parent.parent
# Slack's own manifest schema (MIT, see tests/slack/manifest.schema.LICENSE), kept in the
# repository so the check runs on every clone.
SCHEMA = ROOT / "tests" / "slack" / "manifest.schema.1.0.0.json"


@pytest.fixture(scope="module")
def manifest():
    return yaml.safe_load((ROOT / "app_manifest.yaml").read_text())


def test_manifest_validates_against_slacks_schema(manifest):
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(manifest), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_manifest_declares_what_the_code_listens_for(manifest):
    features = manifest["features"]
    assert [c["command"] for c in features["slash_commands"]] == ["/escalate"]
    shortcuts = {s["callback_id"]: s for s in features["shortcuts"]}
    assert shortcuts[CallbackId.MESSAGE_SHORTCUT]["type"] == "message"
    assert shortcuts[CallbackId.MESSAGE_SHORTCUT]["name"] == "Escalate message"
    assert shortcuts[CallbackId.GLOBAL_SHORTCUT]["name"] == "New escalation"
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert {"app_home_opened", "message.channels", "message.groups", "subteam_members_changed"} <= set(events)
    # `/escalate oncall LEVEL @person` reads the person's id from <@U…|name>
    assert features["slash_commands"][0]["should_escape"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_manifest_has_the_scopes_the_bot_calls_need(manifest):
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # chat.postMessage/update/postEphemeral, conversations.join (not_in_channel),
    # conversations.history/replies (duplicate check after a crash), slash command
    assert {"chat:write", "channels:join", "channels:history", "groups:history", "commands"} <= scopes
    assert "usergroups:read" in scopes  # usergroups.users.list: the members of a level's user groups
