"""An offline Slack for tests and ``escalator demo``.

- ``FakeSlack``: a stateful fake of Slack's Web API served over HTTP on
  127.0.0.1 (``WebClient(token=sim.token, base_url=sim.url)``). Holds channels,
  messages and threads, ephemerals, response_url posts, modals and Home tabs;
  validates Block Kit like Slack; serves the external file upload
  (``files.getUploadURLExternal``, the upload URL, ``files.completeUploadExternal``,
  ``files.info``: ``shared_files``, ``uploads_started``); injects faults (``fail_next``, ``fail_http``,
  ``throttle_next``, ``outage``, ``rate_limit_channel``, ``latency``); and answers
  tests (``messages``, ``find_message``, ``ephemerals``, ``views_opened``,
  ``wait_for``, ``transcript`` ...).
- ``SlackDriver``: the people in Slack. Sends signed slash commands, shortcuts,
  button clicks, modal submissions and events to the bot's request URL.
- ``FakeSocketMode`` (``sim.enable_socket_mode()``): Slack's Socket Mode server;
  ``apps.connections.open`` hands out its ws:// URLs. ``SocketModeDriver``: the
  same people, their actions delivered as envelopes that must be acked.
- ``SlackApiFault``: raised inside Web API methods (including ones added with
  ``FakeSlack.add_method``) to fail a call the way Slack does.
- ``Message``, ``Ephemeral``, ``StoredView``, ``Call``: the records returned by
  the inspection helpers; ``render_text`` gives what a person reads in a message.
- ``validate_blocks`` / ``validate_view``: the Block Kit checks on their own.

Example::

    with FakeSlack() as sim:
        sim.add_channel("C1", "escalations")
        client = WebClient(token=sim.token, base_url=sim.url)
        client.chat_postMessage(channel="C1", text="hi")
        assert sim.messages("C1")[0].text == "hi"
        print(sim.transcript())
"""

from .blocks import validate_blocks, validate_view
from .driver import DriverResponse, SlackDriver
from .models import Call, Ephemeral, Message, SlackApiFault, StoredView, render_text
from .server import FakeSlack
from .socket_driver import SocketModeDriver
from .socket_mode import Delivery, FakeSocketMode, SocketConnection

__all__ = [
    "Call", "Delivery", "DriverResponse", "Ephemeral", "FakeSlack", "FakeSocketMode", "Message",
    "SlackApiFault", "SlackDriver", "SocketConnection", "SocketModeDriver", "StoredView", "render_text", "validate_blocks", "validate_view",
]
