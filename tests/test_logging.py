import logging

import pytest

from bot.logging_setup import RedactSecrets, configure_logging


@pytest.fixture(autouse=True)
def restore_logging():
    root, sdk = logging.getLogger(), logging.getLogger("slack_sdk")
    saved = (root.handlers[:], root.level, sdk.level)
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    sdk.setLevel(saved[2])


def test_tokens_and_the_signing_secret_are_masked_in_messages_and_tracebacks(capsys):
    configure_logging(["my-signing-secret-value"])
    log = logging.getLogger("escalator.test")
    log.error("calling Slack with Bearer xoxb-1234-5678-abcdef and xapp-1-A0-xyz")
    try:
        raise RuntimeError("signature mismatch for my-signing-secret-value")
    except RuntimeError:
        log.exception("failed with %s", "xoxp-user-token-1")
    err = capsys.readouterr().err
    assert "xoxb-1234" not in err and "xapp-1-A0" not in err and "xoxp-user" not in err
    assert "my-signing-secret-value" not in err
    assert "xoxb-***" in err and "RuntimeError: signature mismatch for ***" in err


def test_slack_sdk_debug_logging_is_held_back():
    configure_logging([], level=logging.DEBUG)
    assert logging.getLogger("slack_sdk").getEffectiveLevel() >= logging.INFO
    assert RedactSecrets([]).redact("token=xoxb-abc-123") == "token=xoxb-***"
