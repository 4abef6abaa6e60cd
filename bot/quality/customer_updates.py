"""Progress updates to the customer (handoff step 5 while the ticket is worked on).

"Update customer" on the current briefing opens "Update customer ESC-n" prefilled from the
progress template (the latest note, when the next update is due); the text the person
submits goes to the customer's Slack Connect channel through the outbox, or back to them
as a ready-to-copy draft. Either way the ticket's history records it, the thread says so,
and the next customer update falls due `update_every` later (business time of the level):
the progress reminder in the thread names that time.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import history, messages, outbox
from bot.calendar import calendar_for
from bot.context import ActionContext
from bot.db import transaction
from bot.desk import EscalationDesk
from bot.errors import InvalidInput
from bot.ids import BlockId
from bot.models import Ticket, TicketEvent, TicketNote, TicketStatus, utcnow
from bot.policy import Policy
from bot.quality import customer_templates
from bot.rendering import Mrkdwn, escape_mrkdwn

MAX_MESSAGE = 3000  # one section of a Slack message
# after these the customer has heard from us (or the agent was given the words to send)
TOLD_KINDS = ("opened", "escalated", "reopened", "customer_updated")


def customer_update_due(session: Session, ticket: Ticket, policy: Policy) -> datetime | None:
    """When the customer is next owed an update: `update_every` (business time of the
    ticket's level) after they last heard from us; None when the severity sets no cadence."""
    severity = policy.severities.get(ticket.severity)
    if severity is None or severity.update_every is None:
        return None
    last = session.scalar(select(func.max(TicketEvent.at)).where(TicketEvent.ticket_id == ticket.id,
                                                                TicketEvent.kind.in_(TOLD_KINDS)))
    if last is None:
        return None
    return calendar_for(policy, ticket.level).add(last, severity.update_every)


def due_phrase(due: datetime | None, now: datetime, policy: Policy) -> str | None:
    """How the progress reminder words the customer's next update."""
    if due is None:
        return None
    when = messages.local_time(due, policy)
    return f"The customer's next update is overdue (was due {when})." if due <= now \
        else f"The customer's next update is due by {when}."


class ProgressUpdates:
    def __init__(self, desk: EscalationDesk):
        self.desk = desk
        self.sessions = desk.sessions
        self.policy = desk.policy

    def modal(self, ticket: Ticket, context: ActionContext) -> dict:
        """"Update customer ESC-n", its Message prefilled from the progress template."""
        with self.sessions() as session:
            text = self.draft(session, ticket, utcnow())
        channel = self.policy.customer_channel(ticket.customer or "")
        return messages.customer_update_modal(ticket, context, _unescaped(text), channel)

    def draft(self, session: Session, ticket: Ticket, now: datetime) -> Mrkdwn:
        latest = session.scalar(select(TicketNote.text).where(TicketNote.ticket_id == ticket.id)
                                .order_by(TicketNote.id.desc()).limit(1))
        severity = self.policy.severities.get(ticket.severity)
        next_by = (calendar_for(self.policy, ticket.level).add(now, severity.update_every)
                   if severity and severity.update_every else None)
        values = {**customer_templates.ticket_values(ticket, self.policy),
                  "latest_note": latest or "",
                  "waiting_on_customer": "yes" if ticket.status == TicketStatus.WAITING else "",
                  "next_update_by": messages.local_time(next_by, self.policy) if next_by else ""}
        return customer_templates.render(self.policy.customer_templates, "progress", values)

    def send(self, ticket_id: int | None, text: str | None, actor_id: str, *, seen_cycle: int | None = None) -> dict:
        """Tell the customer `text` (what the person wrote: escaped for mrkdwn). Returns
        {"channel": id} when it went to their channel, else {"draft": mrkdwn} to copy."""
        text = (text or "").strip()
        if not text:
            raise InvalidInput({BlockId.MESSAGE: "Write the message for the customer."})
        if len(text) > MAX_MESSAGE:
            raise InvalidInput({BlockId.MESSAGE: f"Keep it to {MAX_MESSAGE:,} characters (it has {len(text):,})."})
        message = Mrkdwn(escape_mrkdwn(text))
        with transaction(self.sessions) as session:
            ticket = self.desk.lock(session, ticket_id)
            self.desk.require_active(ticket, "updated")
            self.desk.require_unchanged(session, ticket, seen_cycle)
            self.desk.authorize(ticket, actor_id, "update the customer on", requester_may=True)
            channel = self.policy.customer_channel(ticket.customer or "")
            if channel:
                outbox.post(session, channel=channel, role="customer", ticket_id=ticket.id,
                            payload=messages.customer_message(message, f"Update on your request {ticket.key}"))
                said = f"<@{actor_id}> sent the customer a progress update in <#{channel}>."
            else:
                said = f"<@{actor_id}> took a progress update to send the customer (no Slack Connect channel)."
            history.append(session, ticket, "customer_updated", actor_id, reason=f"progress update in {channel}"
                           if channel else "progress update drafted", detail={"via": "channel" if channel else "draft"})
            due = customer_update_due(session, ticket, self.policy)
            nxt = f" Next update due by {messages.local_time(due, self.policy)}." if due else ""
            self.desk.slack.note_text(session, ticket, self.desk.slack.current_briefing(session, ticket),
                                      Mrkdwn(said + nxt))
            return {"channel": channel} if channel else {"draft": message}


def _unescaped(text: str) -> str:
    """A rendered template as the person should see it in a plain-text input (it is
    escaped again when sent)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
