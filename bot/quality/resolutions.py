"""The resolution confirmation (handoff step 5 at the end): once per resolution — a ticket
reopened and resolved again gets a new one — with the satisfaction question.

With a Slack Connect channel for the customer it is posted there through the outbox, in the
resolving transaction, with five score buttons (bot.quality.csat records the clicks).
Without one, the person who resolved gets it as a ready-to-copy draft whose survey link
(`ESCALATOR_PUBLIC_URL/csat/<token>`) leads to the survey page.
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import alerts, history, messages, outbox
from bot.context import ActionContext
from bot.desk import EscalationDesk
from bot.ids import CSAT_ACTIONS
from bot.models import Ticket, TicketEvent, utcnow
from bot.quality import customer_templates
from bot.quality.survey_tokens import SurveyLinks
from bot.rendering import Mrkdwn

SCORE_LABELS = {1: "Very dissatisfied", 2: "Dissatisfied", 3: "Neutral", 4: "Satisfied", 5: "Very satisfied"}
CONFIRMATION_ROLE = "customer_resolution"  # the confirmation's SlackMessage.role


def question(ticket_key: str) -> str:
    return f"How satisfied are you with how we handled {ticket_key}?"


def resolution_count(session: Session, ticket_id: int) -> int:
    """How often the ticket has been resolved: the n-th `resolved` event is resolution n."""
    return session.scalar(select(func.count()).select_from(TicketEvent).where(
        TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "resolved")) or 0


def resolved_event(session: Session, ticket_id: int, resolution: int) -> TicketEvent | None:
    if resolution < 1:
        return None
    return session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id,
                                                     TicketEvent.kind == "resolved")
                           .order_by(TicketEvent.id).offset(resolution - 1).limit(1)).first()


def surveyed_resolution(payload: dict) -> int | None:
    """Which resolution a posted confirmation's score buttons rate (None: no buttons)."""
    score_buttons = {action.value for action in CSAT_ACTIONS}
    for block in payload.get("blocks") or ():
        if block.get("type") != "actions":
            continue
        for element in block.get("elements") or ():
            if element.get("action_id") in score_buttons:
                return ActionContext.decode(element.get("value")).resolution
    return None


def survey_block(ticket: Ticket, resolution: int, thanks: Mrkdwn | None = None) -> dict:
    return {"question": question(ticket.key), "thanks": thanks,
            "value": ActionContext(ticket_id=ticket.id, resolution=resolution).encode(),
            "scores": [(action, f"{score} · {SCORE_LABELS[score]}") for action, score in CSAT_ACTIONS.items()]}


class ResolutionConfirmations:
    def __init__(self, desk: EscalationDesk, links: SurveyLinks | None):
        self.desk = desk
        self.policy = desk.policy
        self.links = links

    def on_resolved(self, session: Session, ticket: Ticket) -> None:
        """desk.resolve's hook, inside its transaction: owe the customer's channel the
        confirmation with the score buttons, once per resolution (ledger key)."""
        channel = self.policy.customer_channel(ticket.customer or "")
        if not channel:
            return
        resolution = resolution_count(session, ticket.id)
        if not alerts.record_once(session, kind="customer_resolution", ticket_id=ticket.id, level=ticket.level,
                                  threshold=f"resolution:{resolution}"):
            return
        payload = messages.customer_message(self.text(session, ticket), f"{ticket.key} is resolved",
                                            survey_block(ticket, resolution))
        outbox.post(session, channel=channel, payload=payload, role=CONFIRMATION_ROLE, ticket_id=ticket.id,
                    level=ticket.level)
        history.append(session, ticket, "customer_notified", None,
                       reason=f"resolution confirmation in {channel}", detail={"resolution": resolution})

    def for_resolver(self, ticket: Ticket) -> dict:
        """After the resolve: what the person who resolved is told (ephemeral reply)."""
        key = ticket.key
        headline = Mrkdwn(f":white_check_mark: *{key}* is resolved.")
        channel = self.policy.customer_channel(ticket.customer or "")
        if channel:
            return messages.customer_note_reply(headline, {"channel": channel})
        with self.desk.sessions() as session:
            text = self.text(session, ticket)
            resolution = resolution_count(session, ticket.id)
        hint = None
        if self.links is not None:
            url = self.links.url(ticket.id, resolution, utcnow())
            text = Mrkdwn(f"{text}\n\n{question(key)} Tell us in one click: {url}")
        else:
            hint = Mrkdwn("No survey link: set ESCALATOR_PUBLIC_URL and ESCALATOR_SECRET to add one.")
        return messages.customer_note_reply(headline, {"draft": text}, hint)

    def text(self, session: Session, ticket: Ticket) -> Mrkdwn:
        values = {**customer_templates.ticket_values(ticket, self.policy),
                  "resolution": ticket.resolution or "", "root_cause": ticket.root_cause or "",
                  "resolved_at": messages.local_time(ticket.resolved_at or utcnow(), self.policy)}
        return customer_templates.render(self.policy.customer_templates, "resolution", values)
