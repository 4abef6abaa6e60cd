"""Step 5 of the handoff: the customer hears, from our side, that the ticket was
escalated and when to expect a first response and updates — posted to their Slack
Connect channel when the policy maps one, otherwise drafted for the agent to copy."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import alerts, messages, outbox
from bot.models import ClockKind, SlaClock, Ticket
from bot.policy import Policy
from bot.rendering import Mrkdwn


class CustomerUpdates:
    def __init__(self, sessions: sessionmaker[Session], policy: Policy):
        self.sessions = sessions
        self.policy = policy

    def for_agent(self, ticket: Ticket) -> dict:
        """{"channel": id} where the customer is being told, or {"draft": text} ready to copy."""
        channel = self.policy.customer_channel(ticket.customer or "")
        if channel:
            return {"channel": channel}
        with self.sessions() as session:
            payload = messages.customer_update(ticket, self.policy, self._response_due(session, ticket))
        return {"draft": Mrkdwn(payload["blocks"][0]["text"]["text"])}

    def tell(self, session: Session, ticket: Ticket) -> str | None:
        """Owe the customer's channel the update for the ticket's arrival at its level
        (once per stay); returns the channel when one was owed now."""
        channel = self.policy.customer_channel(ticket.customer or "")
        if channel and alerts.record_once(session, kind="customer_update", ticket_id=ticket.id, level=ticket.level,
                                          threshold="acknowledgment", cycle=ticket.cycle):
            payload = messages.customer_update(ticket, self.policy, self._response_due(session, ticket))
            outbox.post(session, channel=channel, payload=payload, role="customer", ticket_id=ticket.id)
            return channel
        return None

    @staticmethod
    def _response_due(session: Session, ticket: Ticket) -> datetime | None:
        session.flush()
        return session.scalar(select(SlaClock.due_at).where(SlaClock.ticket_id == ticket.id,
                                                            SlaClock.cycle == ticket.cycle,
                                                            SlaClock.kind == ClockKind.RESPONSE))
