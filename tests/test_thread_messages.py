"""Which message events count as a person writing in a ticket's thread (a reply there
acknowledges or resets the progress reminder, so a bot's message must not)."""
import pytest

from bot.thread_messages import ThreadMessage, person_in_thread

REPLY = {"type": "message", "channel": "C0TIER2", "thread_ts": "100.1", "ts": "100.2", "user": "U0SPEC1",
         "text": "On it"}


def test_a_persons_reply_in_a_thread_counts():
    assert person_in_thread(REPLY) == ThreadMessage("C0TIER2", "100.1", "U0SPEC1", "On it", "100.2")


@pytest.mark.parametrize("change", [
    {"bot_id": "B0OTHER"},                      # another app writing as a user
    {"subtype": "bot_message"},
    {"subtype": "channel_join"},
    {"thread_ts": None},                        # a root message, not a reply
    {"thread_ts": "100.2"},                     # the thread's own root
    {"user": None},
    {"ts": None},
])
def test_what_is_not_a_person_replying_does_not_count(change):
    assert person_in_thread({**REPLY, **change}) is None


def test_a_persons_edit_counts_as_an_edit_and_a_bots_does_not():
    edit = {"type": "message", "subtype": "message_changed", "channel": "C0TIER2",
            "message": {"user": "U0SPEC1", "text": "ETA 2h", "ts": "100.2"}}
    assert person_in_thread(edit) == ThreadMessage("C0TIER2", "", "U0SPEC1", "ETA 2h", "100.2", edited=True)
    assert person_in_thread({**edit, "message": {**edit["message"], "bot_id": "B0OTHER"}}) is None
