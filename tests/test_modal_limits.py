"""Every text input of every modal shows its limits while the person types: max_length
within Slack's cap (3,000) and no more than the server accepts, min_length where an empty
value is refused. The server-side checks stay (a request need not come from our modal)."""
from __future__ import annotations

import pytest

from bot.forms import MAX_CUSTOMER, MAX_LONG_TEXT, MAX_SUMMARY
from bot.ids import ActionId, BlockId, CallbackId
from bot.simulator.blocks import validate_blocks
from tests.harness import MANAGER, Harness

SLACK_CAP = 3000
SERVER_LIMIT = {BlockId.SUMMARY: MAX_SUMMARY, BlockId.CUSTOMER: MAX_CUSTOMER}  # else MAX_LONG_TEXT


def every_modal(bot: Harness) -> dict[str, dict]:
    """Each modal the bot opens, as Slack received it, by callback_id."""
    opened = {}

    def keep(view):
        opened[view.callback_id] = view.view
        return view

    keep(bot.open_modal(MANAGER))
    key = bot.new_ticket(Severity="P2")
    briefing = bot.briefing(key)
    for action in (ActionId.ESCALATE, ActionId.RESOLVE, ActionId.UPDATE_FACTS, ActionId.REASSIGN, ActionId.WAIT):
        keep(bot.modal_from(MANAGER, briefing, action))
    answer = bot.driver.submit_view(MANAGER, bot.sim.views_opened(MANAGER)[-1].id, {"Reason": "Waiting for the customer's logs"})
    assert answer.status == 200, answer.body
    waiting = bot.sim.wait_for(lambda: (m := bot.sim.message(briefing.channel, briefing.ts)) and any(
        "Resume" in str(b) for b in m.blocks) and m, message="the Resume button")
    keep(bot.modal_from(MANAGER, waiting, ActionId.RESUME))
    top = bot.briefing(bot.new_ticket(Severity="P1"), "tier3")
    keep(bot.modal_from(MANAGER, top, ActionId.DEESCALATE))
    return opened


def test_every_text_input_carries_its_limits(database_url):
    with Harness(database_url) as bot:
        modals = every_modal(bot)
    typed_modals = {CallbackId.NEW_ESCALATION_MODAL, CallbackId.ESCALATE_MODAL, CallbackId.RESOLVE_MODAL,
                    CallbackId.WAIT_MODAL, CallbackId.RESUME_MODAL, CallbackId.DEESCALATE_MODAL,
                    CallbackId.FACTS_MODAL}
    assert typed_modals <= set(modals), sorted(set(typed_modals) - set(modals))
    inputs = 0
    for callback_id, view in modals.items():
        for block in view["blocks"]:
            element = block.get("element") or {}
            if block["type"] != "input" or element.get("type") != "plain_text_input":
                continue
            inputs += 1
            where = f"{callback_id}/{block['block_id']}"
            limit = SERVER_LIMIT.get(block["block_id"], MAX_LONG_TEXT)
            assert 1 <= element.get("max_length", 0) <= min(SLACK_CAP, limit), where
            if block.get("optional"):
                assert "min_length" not in element, where
            else:
                assert element.get("min_length") == 1, where
    assert inputs >= 10  # summary, customer, steps, revenue ×2, resolution, training, reason ×4


@pytest.mark.parametrize("element, problem", [
    ({"max_length": 3001}, "max_length: must be an integer from 1 to 3000"),
    ({"max_length": 0}, "max_length: must be an integer from 1 to 3000"),
    ({"min_length": 3001}, "min_length: must be an integer from 0 to 3000"),
    ({"min_length": 10, "max_length": 5}, "min_length: must not exceed max_length"),
])
def test_the_fake_slack_refuses_limits_slack_refuses(element, problem):
    block = {"type": "input", "block_id": "b", "label": {"type": "plain_text", "text": "L"},
             "element": {"type": "plain_text_input", "action_id": "value", **element}}
    assert any(problem in error for error in validate_blocks([block], max_blocks=100))
    assert validate_blocks([{**block, "element": {"type": "plain_text_input", "action_id": "value",
                                                  "min_length": 1, "max_length": 3000}}], max_blocks=100) == []
