"""Prometheus metrics: one registry per running bot (docs/operations.md lists them).

Each process counts what it did itself (deliveries, Slack errors, requests, sweeps,
alerts sent); the figures read from the database (the outbox backlog, open tickets)
are the same whichever process is asked. Labels only ever carry names from a fixed
set (Slack method names and error codes, our action and callback ids, level keys,
severities), never what a person typed or a secret.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.process_collector import ProcessCollector

from bot.slack_errors import FailureKind, SlackFailure

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "ALERT_MARK"]

disable_created_metrics()  # the *_created series double every counter and histogram for no one's use

# An outbox payload key naming the SLA alert a row carries ({"kind", "due"}); the sender
# takes it out before the call, and delivery reports the alert's lateness from it.
ALERT_MARK = "escalator_alert"

_LATENESS_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
_SWEEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10)
_RETRY_AFTER_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        register = {"registry": self.registry}
        self.deliveries = Counter(
            "escalator_outbox_deliveries", "Outbox rows this process handed to Slack, by Slack method and "
            "result (sent, already_posted, rate_limited, retry, failed)", ["method", "result"], **register)
        self.slack_errors = Counter(
            "escalator_slack_api_errors", "Slack Web API calls that failed, by method and Slack's error code "
            "(network errors by exception type)", ["method", "error"], **register)
        self.rate_limited = Counter(
            "escalator_slack_rate_limited", "Slack answers 429 (rate limited), by method", ["method"], **register)
        self.retry_after = Histogram(
            "escalator_slack_retry_after_seconds", "The Retry-After waits Slack asked for with a 429",
            buckets=_RETRY_AFTER_BUCKETS, **register)
        self.sweep_duration = Histogram(
            "escalator_sla_sweep_duration_seconds", "How long one scheduled SLA sweep took",
            buckets=_SWEEP_BUCKETS, **register)
        self.alert_lateness = Histogram(
            "escalator_sla_alert_lateness_seconds", "Seconds from an SLA deadline (a warning's or a breach's "
            "moment) to its alert's delivery to Slack, by kind", ["kind"], buckets=_LATENESS_BUCKETS, **register)
        self.alerts_sent = Counter(
            "escalator_sla_alerts_sent", "SLA warnings and breach alerts delivered to Slack by this process",
            ["kind"], **register)
        self.request_duration = Histogram(
            "escalator_slack_request_duration_seconds", "Time to answer a Slack request, by kind (command, "
            "action, view, shortcut, event, options) and handler", ["kind", "handler"],
            buckets=_REQUEST_BUCKETS, **register)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    # --- hooks -------------------------------------------------------------------
    def delivered(self, method: str, result: dict, alert: dict | None, sent_at: datetime) -> None:
        self.deliveries.labels(method, "already_posted" if result.get("found_earlier") else "sent").inc()
        if alert:
            kind = alert["kind"]
            self.alerts_sent.labels(kind).inc()
            lateness = (sent_at - datetime.fromisoformat(alert["due"])).total_seconds()
            self.alert_lateness.labels(kind).observe(max(0.0, lateness))  # a sweep run ahead (tests) is on time

    def delivery_failed(self, method: str | None, failure: SlackFailure) -> None:
        if failure.kind is FailureKind.RATE_LIMITED:
            result = "rate_limited"
        else:
            result = "retry" if failure.kind.retryable else "failed"
        self.deliveries.labels(method or "unknown", result).inc()

    def slack_error(self, method: str, failure: SlackFailure) -> None:
        self.slack_errors.labels(method, failure.error).inc()
        if failure.kind is FailureKind.RATE_LIMITED:
            self.rate_limited.labels(method).inc()
            if failure.retry_after is not None:
                self.retry_after.observe(failure.retry_after)

    @contextmanager
    def timed_sweep(self):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.sweep_duration.observe(time.perf_counter() - started)

    def request(self, kind: str, handler: str, seconds: float) -> None:
        self.request_duration.labels(kind, handler).observe(seconds)
