"""SocketModeDriver: the people in Slack, reaching the bot over Socket Mode.

The same payloads as ``SlackDriver`` (slash commands, shortcuts, clicks, modal
submissions, events), delivered as envelopes on the app's Socket Mode connections
instead of signed HTTP requests. The ack's payload stands for the HTTP answer's
body, so everything built on ``SlackDriver`` (a command's reply shown to the user,
a modal updated after a submission) works unchanged.
"""

from __future__ import annotations

import json
import uuid
from typing import Optional
from urllib.parse import parse_qsl

from .driver import DriverResponse, SlackDriver
from .server import FakeSlack
from .socket_mode import Delivery, SocketConnection


class SocketModeDriver(SlackDriver):
    def __init__(self, sim: FakeSlack, *, ack_timeout: float = 10.0, **kwargs):
        super().__init__("socket-mode", "unused-in-socket-mode", sim, **kwargs)
        if sim.socket_mode is None:
            raise RuntimeError("call sim.enable_socket_mode() first")
        self.server = sim.socket_mode
        self.ack_timeout = ack_timeout
        self.deliveries: list[Delivery] = []
        # when set, each envelope goes to every one of these connections (same envelope_id,
        # the later copies as retries): Slack's redelivery after a missing ack
        self.deliver_to: list[SocketConnection] = []

    def _send(self, body: bytes, content_type: str, extra: Optional[dict] = None) -> DriverResponse:
        if "json" in content_type:
            envelope_type, payload = "events_api", json.loads(body)
        else:
            fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            if "payload" in fields:
                envelope_type, payload = "interactive", json.loads(fields["payload"])
            else:
                envelope_type, payload = "slash_commands", fields
        retry = int((extra or {}).get("X-Slack-Retry-Num", 0))
        reason = (extra or {}).get("X-Slack-Retry-Reason", "")
        if not self.deliver_to:
            delivery = self.server.deliver(envelope_type, payload, retry_attempt=retry, retry_reason=reason)
            self.deliveries.append(delivery.wait_ack(self.ack_timeout))
            answer = delivery.ack_payload
            return DriverResponse(200, json.dumps(answer) if answer is not None else "", {}, answer)
        envelope_id = str(uuid.uuid4())
        for attempt, connection in enumerate(self.deliver_to):
            delivery = self.server.deliver(envelope_type, payload, connection=connection, envelope_id=envelope_id,
                                           retry_attempt=attempt, retry_reason="timeout" if attempt else "")
        self.deliveries.append(delivery.wait_acks(len(self.deliver_to), self.ack_timeout))
        answer = next((ack[2] for ack in delivery.acks if ack[2]), None)
        return DriverResponse(200, json.dumps(answer) if answer is not None else "", {}, answer)
