"""Wiring: settings, policy, database, desk, Slack clients, Bolt app, outbox worker."""
from __future__ import annotations

import gc
import logging
from dataclasses import dataclass, field, replace

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.db import make_engine, make_session_factory, upgrade
from bot.delivery import DeliveryOptions, OutboxWorker
from bot.assignment import Assignment
from bot.coverage import Coverage, RosterCache
from bot.deescalation import Deescalation
from bot.desk import EscalationDesk
from bot.facts import FactUpdates
from bot.listing import TicketListing
from bot.events import EventLedger
from bot.metrics import Metrics
from bot.metrics.database import DatabaseGauges
from bot.metrics.requests import MeasuredApp
from bot.metrics.slack_client import MeasuredWebClient
from bot.home import HomeTab
from bot.quality.review import MonthlyReview
from bot.sla.digest import DailyDigest
from bot.sla.sweep import SlaSweep
from bot.sla.why import WhyReport
from bot.policy import Policy, load_policy
from bot.quality.csat import Csat
from bot.quality.customer_updates import ProgressUpdates
from bot.quality.resolutions import ResolutionConfirmations
from bot.quality.survey_tokens import SurveyLinks

log = logging.getLogger("escalator")


@dataclass
class Runtime:
    settings: Settings
    policy: Policy
    engine: Engine
    sessions: sessionmaker[Session]
    desk: EscalationDesk
    deescalation: Deescalation
    facts: FactUpdates
    listing: TicketListing
    assignment: Assignment
    events: EventLedger
    home: HomeTab
    sla: SlaSweep
    digest: DailyDigest
    why: WhyReport
    worker: OutboxWorker
    progress_updates: ProgressUpdates
    resolutions: ResolutionConfirmations
    csat: Csat
    review: MonthlyReview
    coverage: Coverage
    survey_links: SurveyLinks | None = None  # None without ESCALATOR_SECRET: no survey page or links
    metrics: Metrics = field(default_factory=Metrics)
    app: App | None = None
    background: list = field(default_factory=list)

    def stop(self) -> None:
        for stoppable in reversed(self.background):
            stoppable()
        self.background.clear()
        self.worker.liveness.release()  # also when the worker was only driven by hand (tests, the demo)
        self.engine.dispose()


def interactive_client(settings: Settings, metrics: Metrics | None = None) -> WebClient:
    """For answers to the person acting now: one quick retry, never a long sleep."""
    return MeasuredWebClient(
        metrics=metrics or Metrics(),
        token=settings.bot_token,
        base_url=settings.slack_api_url,
        timeout=5,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1),
                        RateLimitErrorRetryHandler(max_retry_count=1)],
    )


def roster_client(settings: Settings) -> WebClient:
    """For reading user groups, also while an event waits for its answer: a short
    timeout (the event's own change is applied when Slack is slow), the next refresh retries."""
    return WebClient(token=settings.bot_token, base_url=settings.slack_api_url, timeout=2, retry_handlers=[])


def outbox_client(settings: Settings, metrics: Metrics | None = None) -> WebClient:
    """The worker schedules its own retries (Retry-After, backoff), so no sleeping here."""
    return MeasuredWebClient(metrics=metrics or Metrics(), token=settings.bot_token, base_url=settings.slack_api_url,
                             timeout=10, retry_handlers=[])


def build_runtime(settings: Settings, *, policy: Policy | None = None,
                  delivery: DeliveryOptions | None = None, migrate: bool = True) -> Runtime:
    policy = policy or load_policy(settings.policy_path)
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    sessions = make_session_factory(engine)
    policy = replace(policy, rosters=RosterCache(sessions))  # user groups' members, as stored
    desk = EscalationDesk(sessions, policy)
    home = HomeTab(sessions, policy)
    desk.on_change.append(home.refresh_for)
    metrics = Metrics()
    worker = OutboxWorker(sessions, outbox_client(settings, metrics), delivery,
                          renderers={"briefing": desk.slack.render_briefing, "home": home.render_payload},
                          metrics=metrics)
    metrics.registry.register(DatabaseGauges(sessions, policy, worker.worker_id))
    # links need a public URL to point at; the page needs only the secret to check them
    survey_links = SurveyLinks(settings.public_url or "", settings.secret) if settings.secret else None
    resolutions = ResolutionConfirmations(desk, survey_links if settings.public_url else None)
    desk.on_resolved.append(resolutions.on_resolved)
    assignment = Assignment(desk)
    coverage = Coverage(sessions, policy, roster_client(settings), desk)
    assignment.off_hours_assignee = coverage.pager.off_hours_assignee
    return Runtime(settings=settings, policy=policy, engine=engine, sessions=sessions, desk=desk,
                   deescalation=Deescalation(desk), assignment=assignment, facts=FactUpdates(desk),
                   listing=TicketListing(sessions, policy),
                   events=EventLedger(sessions, worker.liveness), home=home,
                   sla=SlaSweep(sessions, policy, desk), digest=DailyDigest(sessions, policy, coverage.oncall),
                   why=WhyReport(sessions, policy, desk), worker=worker, coverage=coverage,
                   progress_updates=ProgressUpdates(desk), resolutions=resolutions, csat=Csat(desk),
                   review=MonthlyReview(sessions, policy), survey_links=survey_links, metrics=metrics)


def build_app(runtime: Runtime) -> App:
    """The Bolt app. process_before_response: the listener's own work is the ack
    (each one is a short transaction), so the HTTP answer needs no polling loop."""
    import handlers

    app = MeasuredApp(
        client=interactive_client(runtime.settings, runtime.metrics),
        signing_secret=runtime.settings.signing_secret,
        process_before_response=True,
        raise_error_for_unhandled_request=True,  # to handlers.errors.bolt_error: one warning line
        logger=logging.getLogger("escalator.bolt"),
    )
    app.metrics = runtime.metrics
    handlers.register(app, runtime)
    runtime.app = app
    return app


def freeze_startup_objects() -> None:
    """Move what start-up built (Bolt, slack_sdk, SQLAlchemy's tables and mappers, the
    templates, the policy) out of the garbage collector's reach: it lives as long as the
    process, and a full collection stops every thread while it walks the heap (70 ms in
    the acknowledgement benchmark before this, a few ms after)."""
    gc.collect()
    gc.freeze()


def start_background(runtime: Runtime) -> None:
    """The outbox worker and the scheduled jobs."""
    from schedules import start_scheduler

    runtime.worker.start()
    runtime.background.append(runtime.worker.stop)
    scheduler = start_scheduler(runtime)
    runtime.background.append(lambda: scheduler.shutdown(wait=False))
