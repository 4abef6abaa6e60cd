"""Database models: tickets, their event log, their Slack messages, the outbox."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import false, literal_column, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.clock import utcnow  # the desk's one clock (a simulation may set it); re-exported here


class UTCDateTime(TypeDecorator):
    """Stores naive UTC (SQLite has no time zones), always hands back aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class TicketStatus:
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    WAITING = "waiting"  # on the customer: SLA clocks paused
    RESOLVED = "resolved"
    # an imported ticket the helpdesk export shows as not resolved: history, never worked here
    IMPORTED_OPEN = "imported_open"
    ACTIVE = (OPEN, ACKNOWLEDGED, WAITING)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    summary: Mapped[str] = mapped_column(Text)
    customer: Mapped[str] = mapped_column(String(200), default="")
    severity: Mapped[str] = mapped_column(String(2))
    impact: Mapped[str] = mapped_column(String(20))
    complexity: Mapped[str] = mapped_column(String(20))
    vip: Mapped[bool] = mapped_column(Boolean, default=False)
    executive_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    asked_for_manager: Mapped[bool] = mapped_column(Boolean, default=False)
    brand_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    asked_again: Mapped[bool] = mapped_column(Boolean, default=False)  # the customer escalated again
    revenue_at_risk: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    steps_taken: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20), default=TicketStatus.OPEN, index=True)
    cycle: Mapped[int] = mapped_column(Integer, default=1)  # one per stay in a level
    requester_id: Mapped[str] = mapped_column(String(20))
    source_channel: Mapped[str | None] = mapped_column(String(20), nullable=True)
    source_permalink: Mapped[str | None] = mapped_column(Text, nullable=True)
    assignee_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(20), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    root_cause: Mapped[str | None] = mapped_column(String(60), nullable=True)
    kb_gap: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    kb_article: Mapped[str | None] = mapped_column(Text, nullable=True)
    training_need: Mapped[str | None] = mapped_column(Text, nullable=True)
    product_link: Mapped[str | None] = mapped_column(Text, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # past tickets from a helpdesk export (bot.importing): never posted, never swept
    imported: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    source_id: Mapped[str | None] = mapped_column(String(120), nullable=True, unique=True)

    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )

    @property
    def key(self) -> str:
        return f"ESC-{self.id}"

    @property
    def is_active(self) -> bool:
        return self.status in TicketStatus.ACTIVE


class TicketEvent(Base):
    """Append-only history: who did what, when, why."""

    __tablename__ = "ticket_events"
    # the quality metrics read a date range of given kinds (migration 0007)
    __table_args__ = (Index("ix_ticket_events_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    from_level: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_level: Mapped[str | None] = mapped_column(String(20), nullable=True)
    trigger: Mapped[str | None] = mapped_column(String(40), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class TicketStay(Base):
    """A ticket's time at one level, from an arrival to its resolution or the next arrival:
    kept beside the event log by bot.quality.stays so the metrics read a range of stays
    instead of re-deriving them from every event (migration 0011)."""

    __tablename__ = "ticket_stays"
    # a range of stays read from the index alone (the metrics' timing statement)
    __table_args__ = (Index("ix_ticket_stays_arrived_at", "arrived_at", "level", "acknowledged_at", "left_at"),)

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    stay: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 1, 2, … per ticket
    level: Mapped[str] = mapped_column(String(20))
    arrived_by: Mapped[str] = mapped_column(String(40))  # opened, escalated, deescalated, reopened
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # the stay's first
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # resolved, or the next arrival
    resolutions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SlackMessage(Base):
    """A Slack message that belongs to a ticket; ts is known once it is delivered."""

    __tablename__ = "slack_messages"
    __table_args__ = (Index("ix_slack_messages_channel_ts", "channel", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True, index=True)
    level: Mapped[str | None] = mapped_column(String(20), nullable=True)
    role: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(20))
    ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    thread_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    permalink: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxStatus:
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


# `status = 'pending'` written as a literal, not a bound parameter: SQLite plans a statement
# again for every new value of a parameter that decides whether the partial index on pending
# rows applies (an executemany of the Home/briefing refresh paid that per row, twice the cost
# of its insert), and a generic plan on PostgreSQL can't use that index at all.
PENDING = literal_column(f"'{OutboxStatus.PENDING}'")


class OutboxMessage(Base):
    """A Slack write owed, recorded in the transaction that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "not_before"),
        # "is an earlier row of this thread/channel still pending?" must not scan history
        Index("ix_outbox_pending_order", "order_key", "id",
              postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True, index=True)
    method: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    # Rows sharing an order key (a channel's root messages, or one thread) go out in id order.
    order_key: Mapped[str] = mapped_column(String(80), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("slack_messages.id"), nullable=True)
    thread_message_id: Mapped[int | None] = mapped_column(ForeignKey("slack_messages.id"), nullable=True)
    link_message_id: Mapped[int | None] = mapped_column(ForeignKey("slack_messages.id"), nullable=True)
    payload: Mapped[dict] = mapped_column(JSON)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    status: Mapped[str] = mapped_column(String(10), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    message: Mapped[SlackMessage | None] = relationship(foreign_keys=[message_id])
    thread_message: Mapped[SlackMessage | None] = relationship(foreign_keys=[thread_message_id])
    link_message: Mapped[SlackMessage | None] = relationship(foreign_keys=[link_message_id])


class OutboxFile(Base):
    """A file an outbox row shares (method files.completeUploadExternal), and how far its
    upload got: an upload URL asked for (file_id, upload_url), its bytes sent (uploaded_at).
    Each step is recorded as it happens, so a process that takes the row over goes on from
    there and never shares the files twice (bot.slack_upload)."""

    __tablename__ = "outbox_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(250))
    alt_text: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[bytes] = mapped_column(LargeBinary)
    file_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    upload_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ChannelPacing(Base):
    """When a channel may next be written to: shared by every process (429 Retry-After, pacing)."""

    __tablename__ = "channel_pacing"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    # every wake-up of the outbox worker asks which channels open later than now (a row
    # per channel and per person whose Home was ever published): an index, not a scan
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ProcessedEvent(Base):
    """Slack event ids already handled: Slack retries must change nothing twice."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the worker id (bot.liveness) of the process handling it: a retry of an event whose
    # process died before answering is handled again, not dropped
    claimed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)


class ClockKind:
    RESPONSE = "response"  # until the current level acknowledges
    TIME_LIMIT = "time_limit"  # time in the level before automatic escalation
    UPDATE = "update"  # progress-update cadence while someone works the ticket


class SlaClock(Base):
    """One SLA clock of one ticket at one level in one cycle (a stay in a level).

    Deadlines are stored, indexed, and recomputed whenever what they depend on
    changes (pause, resume, severity); the sweep only reads clocks whose
    next_check_at has come, so its cost grows with what is due, not with all tickets.
    """

    __tablename__ = "sla_clocks"
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind", "level", "cycle", name="uq_sla_clock"),
        Index("ix_sla_clocks_next_check", "next_check_at"),
        Index("ix_sla_clocks_started_at", "started_at"),  # the quality metrics' SLA attainment (0011)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(20))
    cycle: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    target_seconds: Mapped[int] = mapped_column(Integer)
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # None while paused
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    warned: Mapped[bool] = mapped_column(Boolean, default=False)
    breached: Mapped[bool] = mapped_column(Boolean, default=False)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stop_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)


class TicketPause(Base):
    """A stretch of "waiting on customer": SLA clocks don't count it."""

    __tablename__ = "ticket_pauses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[str | None] = mapped_column(String(20), nullable=True)


class Alert(Base):
    """The ledger: each reminder, warning, breach, ping, digest and overflow notice,
    written with its outbox row; the unique key makes it happen once, ever."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(30))
    level: Mapped[str | None] = mapped_column(String(20), nullable=True)
    threshold: Mapped[str] = mapped_column(String(40), default="")
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LevelState(Base):
    """Per level: whether it is over capacity now, and how often it has crossed."""

    __tablename__ = "level_states"

    level: Mapped[str] = mapped_column(String(20), primary_key=True)
    over_capacity: Mapped[bool] = mapped_column(Boolean, default=False)
    crossings: Mapped[int] = mapped_column(Integer, default=0)
    next_member: Mapped[int] = mapped_column(Integer, default=0)  # round-robin position


class TicketNote(Base):
    """A person's reply in one of the ticket's briefing threads; edits update it."""

    __tablename__ = "ticket_notes"
    __table_args__ = (UniqueConstraint("channel", "ts", name="uq_ticket_note_message"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    level: Mapped[str] = mapped_column(String(20))
    author_id: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(20))
    ts: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CsatResponse(Base):
    """A customer's satisfaction score (1–5) for one resolution of a ticket (bot.quality.csat).

    One row per resolution: a later answer within the change window replaces the score
    (answered_at moves, first_answered_at stays). resolution counts the ticket's
    resolutions from 1 (a reopened and resolved-again ticket is asked again); level is
    the level that resolved it."""

    __tablename__ = "csat_responses"
    __table_args__ = (
        UniqueConstraint("ticket_id", "resolution", name="uq_csat_response"),
        CheckConstraint("score BETWEEN 1 AND 5", name="ck_csat_score"),
        Index("ix_csat_responses_answered_at", "answered_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    resolution: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(20))
    score: Mapped[int] = mapped_column(Integer)
    responder_id: Mapped[str] = mapped_column(String(20))  # a Slack user id, or "web" for the survey page
    channel: Mapped[str] = mapped_column(String(10))  # "slack" | "web"
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
class UsergroupRoster(Base):
    """The last known members of a Slack user group a level names (bot.coverage.rosters):
    kept when Slack can't be reached, so the level keeps its people."""

    __tablename__ = "usergroup_rosters"

    group_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    members: Mapped[list] = mapped_column(JSON, default=list)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OncallOverride(Base):
    """A manager put someone on call for a level from starts_at until ends_at."""

    __tablename__ = "oncall_overrides"
    __table_args__ = (Index("ix_oncall_overrides_level_ends", "level", "ends_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    set_by: Mapped[str] = mapped_column(String(20))
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cleared_by: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OncallShift(Base):
    """Per level, the shift whose change of on-call person was last noted in its channel
    ("rotation:<n>" or "override:<id>"): the row lock makes each change noted once."""

    __tablename__ = "oncall_shifts"

    level: Mapped[str] = mapped_column(String(20), primary_key=True)
    shift: Mapped[str] = mapped_column(String(60))
    user_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
