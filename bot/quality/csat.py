"""CSAT after escalation: the customer's score (1–5) for one resolution of a ticket.

Recorded from the buttons of the resolution confirmation in the customer's Slack Connect
channel, or from the survey page. One score per resolution: a later answer within
CHANGE_WINDOW of the first replaces it; after that it stands. Our own people (members of
any level) can't answer. A score of LOW or less tells the resolving level's thread and
management, once per resolution (ledger key), however often it is changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from bot import alerts, history, messages, outbox
from bot.db import transaction
from bot.desk import EscalationDesk
from bot.errors import Conflict, InvalidInput, NotAllowed, TicketNotFound
from bot.models import CsatResponse, OutboxMessage, SlackMessage, Ticket, utcnow
from bot.quality.resolutions import (CONFIRMATION_ROLE, SCORE_LABELS, resolved_event, survey_block,
                                     surveyed_resolution)
from bot.rendering import Mrkdwn, escape_mrkdwn, render

CHANGE_WINDOW = timedelta(days=7)
LOW = 2
WEB = "web"  # responder_id of answers from the survey page

_LEVEL_BRIEFING = (select(*outbox.REF_COLUMNS)
                   .where(SlackMessage.ticket_id == bindparam("ticket_id"), SlackMessage.role == "briefing",
                          SlackMessage.level == bindparam("level"))
                   .order_by(SlackMessage.id.desc()).limit(1))


@dataclass(frozen=True)
class Answer:
    ticket_key: str
    score: int
    replaced: bool  # an earlier score was changed
    changeable_until: datetime


class AnswerClosed(Conflict):
    """The score was given more than CHANGE_WINDOW ago: it stands."""


class Csat:
    def __init__(self, desk: EscalationDesk):
        self.desk = desk
        self.sessions = desk.sessions
        self.policy = desk.policy

    def answer_in_slack(self, ticket_id: int | None, resolution: int | None, score: int, user_id: str,
                        channel: str, message_ts: str | None) -> Answer:
        """A click on a score button. The message is updated to thank them (outbox)."""
        ours = self.policy.levels_of(user_id)
        if ours:
            names = ", ".join(escape_mrkdwn(self.policy.level_name(level)) for level in ours)
            raise NotAllowed(f"This question is for the customer: you are one of our people ({names}), "
                             "so your click was not counted. Nothing was recorded.")
        with transaction(self.sessions) as session:
            answer = self._record(session, ticket_id, resolution, score, user_id, "slack")
            clicked = self._clicked_confirmation(session, ticket_id, resolution, channel, message_ts)
            if clicked is not None:
                message, posted = clicked
                outbox.update(session, message=message, payload=self._thanked(session, message, posted, answer,
                                                                               resolution), ticket_id=ticket_id)
            return answer

    def answer_on_web(self, ticket_id: int, resolution: int, score: int) -> Answer:
        with transaction(self.sessions) as session:
            return self._record(session, ticket_id, resolution, score, WEB, "web")

    def survey(self, ticket_id: int, resolution: int) -> tuple[Ticket, CsatResponse | None] | None:
        """The ticket and its current answer, for the survey page; None when unknown."""
        with self.sessions() as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None or resolved_event(session, ticket_id, resolution) is None:
                return None
            response = session.scalars(select(CsatResponse).where(CsatResponse.ticket_id == ticket_id,
                                                                   CsatResponse.resolution == resolution)).first()
            session.expunge_all()
            return ticket, response

    @staticmethod
    def changeable(response: CsatResponse | None, now: datetime) -> bool:
        return response is None or now - response.first_answered_at <= CHANGE_WINDOW

    # --- the rules ------------------------------------------------------------
    def _record(self, session: Session, ticket_id: int | None, resolution: int | None, score: int,
                responder: str, via: str) -> Answer:
        if score not in SCORE_LABELS:
            raise InvalidInput({"score": "Choose a score from 1 to 5."})
        ticket = self.desk.lock(session, ticket_id)  # two answers at once: one after the other
        resolved = resolved_event(session, ticket.id, resolution or 0)
        if resolved is None:
            raise TicketNotFound(f"{ticket.key} resolution {resolution}")
        now = utcnow()
        response = session.scalars(select(CsatResponse).where(CsatResponse.ticket_id == ticket.id,
                                                              CsatResponse.resolution == resolution)).first()
        replaced = response is not None
        if response is None:
            response = CsatResponse(ticket_id=ticket.id, resolution=resolution, level=resolved.from_level or ticket.level,
                                    first_answered_at=now)
            session.add(response)
        elif not self.changeable(response, now):
            raise AnswerClosed(f"The score for {ticket.key} ({response.score} of 5) was given on "
                               f"{messages.local_time(response.first_answered_at, self.policy)} and can no longer "
                               "be changed. Thank you!")
        response.score, response.responder_id, response.channel, response.answered_at = score, responder, via, now
        history.append(session, ticket, "csat_answered", responder if via == "slack" else None,
                       from_level=response.level, reason=f"{score} of 5 ({SCORE_LABELS[score]})",
                       detail={"score": score, "resolution": resolution, "channel": via, "replaced": replaced})
        if score <= LOW:
            self._tell_low_score(session, ticket, resolution, response.level, score)
        return Answer(ticket.key, score, replaced, response.first_answered_at + CHANGE_WINDOW)

    def _tell_low_score(self, session: Session, ticket: Ticket, resolution: int, level: str, score: int) -> None:
        if not alerts.record_once(session, kind="csat_low", ticket_id=ticket.id, level=level,
                                  threshold=f"resolution:{resolution}"):
            return
        briefing = outbox.ref(session.connection().execute(
            _LEVEL_BRIEFING, {"ticket_id": ticket.id, "level": level}).first())
        alert = dict(ticket=ticket, score=score, label=SCORE_LABELS[score], resolution=resolution,
                     level_name=self.policy.level_name(level))
        if briefing is not None:
            self.desk.slack.note(session, ticket, briefing,
                                 render("csat_alert.json.j2", mentions=[], briefing_link=None, **alert))
        management = self.policy.level("management")
        if briefing is not None and briefing.channel == management.channel:
            return  # the thread note is already in management's channel
        payload = render("csat_alert.json.j2", mentions=list(management.members),
                         briefing_link=messages.LINK_OPEN if briefing else None, **alert)
        outbox.post(session, channel=management.channel, payload=payload, role="alert", ticket_id=ticket.id,
                    level="management", link_to=briefing)

    @staticmethod
    def _clicked_confirmation(session: Session, ticket_id: int | None, resolution: int | None, channel: str,
                              message_ts: str | None) -> tuple[SlackMessage, dict] | None:
        """The confirmation the click came from, and its payload as posted: the one of this
        ticket's resolution in the click's channel (a click anywhere else edits nothing)
        whose ts is the click's. A click can come in the instant before the bot has recorded
        the ts Slack answered the post with; then the click's ts, Slack's word for the same
        message, is recorded, so the thank-you goes out at once and to that message."""
        if not channel or not message_ts:
            return None
        confirmations = session.execute(
            select(SlackMessage, OutboxMessage.payload)
            .join(OutboxMessage, (OutboxMessage.message_id == SlackMessage.id)
                  & (OutboxMessage.method == "chat.postMessage"))
            .where(SlackMessage.ticket_id == ticket_id, SlackMessage.role == CONFIRMATION_ROLE,
                   SlackMessage.channel == channel, or_(SlackMessage.ts == message_ts, SlackMessage.ts.is_(None)))
            .order_by(SlackMessage.id)).all()
        for message, posted in confirmations:
            if surveyed_resolution(posted) == (resolution or 0):
                if message.ts is None:
                    message.ts = message_ts
                return message, posted
        return None

    def _thanked(self, session: Session, message: SlackMessage, posted: dict, answer: Answer,
                 resolution: int | None) -> dict:
        """The confirmation as posted, with a thank-you under its buttons."""
        until = messages.local_time(answer.changeable_until, self.policy)
        thanks = Mrkdwn(f":pray: Thank you! We recorded *{answer.score}* ({SCORE_LABELS[answer.score]}). "
                        f"You can change it until {until}.")
        ticket = session.get(Ticket, message.ticket_id)
        text = posted["blocks"][0]["text"]["text"]
        return messages.customer_message(Mrkdwn(text), posted.get("text", ""),
                                         survey_block(ticket, resolution or 0, thanks))
