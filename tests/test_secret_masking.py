"""`escalator serve` masks secrets in what it logs: provoked here with a Slack error that
echoes the bot token and the signing secret, which the bot logs with its traceback."""
import signal

from bot.simulator import SlackDriver
from tests.harness import SUPPORT
from tests.test_serve import SECRET, TOKEN, served  # noqa: F401 (the fixture)


def test_serve_masks_the_token_and_signing_secret_in_its_log(served):  # noqa: F811
    sim, base, process, _ = served
    # Slack's error code carries the secrets; the refusal is logged with its code
    sim.add_method("views.open", lambda params: {"ok": False, "error": f"invalid_auth token {TOKEN} secret {SECRET}"})
    driver = SlackDriver(base + "/slack/events", SECRET, sim)
    assert driver.command("U0AGENT1", SUPPORT, "").status == 200
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=15)[0]
    logged = [line for line in output.splitlines() if "invalid_auth" in line]
    assert logged, output  # the line that would have leaked is there...
    assert "token xoxb-*** secret ***" in logged[0]  # ...masked
    assert TOKEN not in output and SECRET not in output
