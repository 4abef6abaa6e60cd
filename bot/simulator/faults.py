"""Fault injection: the ways the real Slack misbehaves, on demand.

``FakeSlack`` consults a ``FaultPlan`` before running a method; each check
returns a ``SlackApiFault`` (the failed answer) or None.  All times are
``time.monotonic()``.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

from .models import SlackApiFault

_HTTP_ERRORS = {429: "ratelimited", 500: "internal_error", 502: "bad_gateway",
                503: "service_unavailable", 504: "gateway_timeout"}


def http_error_name(status: int) -> str:
    return _HTTP_ERRORS.get(status, f"http_{status}")


@dataclass
class _Planned:
    method: Optional[str]  # None = any method
    count: int
    fault: SlackApiFault


@dataclass
class LateAnswer:
    """Calls that take effect at once and are answered `seconds` later; `took_effect`
    is set when one has (the moment a test can kill the caller inside the window)."""

    method: str
    seconds: float
    count: int
    channel: Optional[str] = None
    after: int = 0  # matching calls answered on time first
    took_effect: threading.Event = field(default_factory=threading.Event)
    answered: int = 0

    def matches(self, method: str, params: dict) -> bool:
        return self.count > 0 and method == self.method and self.channel in (None, params.get("channel"),
                                                                               params.get("user_id"))


@dataclass
class FaultPlan:
    latency: float = 0.0
    _http: list = field(default_factory=list)  # fail_http / throttle_next, checked before auth
    _api: list = field(default_factory=list)  # fail_next, checked after auth
    _outage_until: float = 0.0
    _outage_status: int = 500
    _outage_exclude: tuple = ()
    _rate: Optional[tuple] = None  # (per_second, burst) for chat.postMessage per channel
    _buckets: dict = field(default_factory=dict)  # channel -> [tokens, last_refill]
    _late: list = field(default_factory=list)  # LateAnswer, checked once a call succeeded

    # -- configuring (FakeSlack's public methods call these) ----------------
    def add_api_error(self, method: str, error: str, count: int) -> None:
        self._api.append(_Planned(method, count, SlackApiFault(error)))

    def add_http_error(self, method: Optional[str], status: int, count: int,
                       headers: Optional[dict] = None) -> None:
        fault = SlackApiFault(http_error_name(status), status=status, headers=headers)
        self._http.append(_Planned(method, count, fault))

    def set_outage(self, status: int, seconds: float, exclude: tuple) -> None:
        self._outage_until = time.monotonic() + seconds
        self._outage_status = status
        self._outage_exclude = tuple(exclude)

    def set_rate_limit(self, per_second: Optional[float], burst: int) -> None:
        self._rate = (per_second, max(1, burst)) if per_second else None
        self._buckets.clear()

    def add_late_answer(self, late: LateAnswer) -> None:
        self._late.append(late)

    def take_late(self, method: str, params: dict) -> Optional[LateAnswer]:
        """The late answer a call that just took effect is due, if any."""
        for late in self._late:
            if late.matches(method, params):
                if late.after > 0:
                    late.after -= 1
                    return None
                late.count -= 1
                if late.count == 0:
                    self._late.remove(late)
                return late
        return None

    def clear(self) -> None:
        self.latency = 0.0
        self._late.clear()
        self._http.clear()
        self._api.clear()
        self._outage_until = 0.0
        self._rate = None
        self._buckets.clear()

    # -- checking -------------------------------------------------------------
    @staticmethod
    def _take(planned: list, method: str) -> Optional[SlackApiFault]:
        for item in planned:
            if item.method in (None, method) and item.count > 0:
                item.count -= 1
                if item.count == 0:
                    planned.remove(item)
                return item.fault
        return None

    def before_auth(self, method: str) -> Optional[SlackApiFault]:
        """Outage, fail_http and throttle_next: transport-level failures."""
        if time.monotonic() < self._outage_until and method not in self._outage_exclude:
            status = self._outage_status
            return SlackApiFault(http_error_name(status), status=status)
        return self._take(self._http, method)

    def after_auth(self, method: str, params: dict) -> Optional[SlackApiFault]:
        """fail_next errors, then chat.postMessage per-channel pacing."""
        fault = self._take(self._api, method)
        if fault is not None:
            return fault
        if method == "chat.postMessage" and self._rate is not None:
            return self._pace(str(params.get("channel") or ""))
        return None

    def _pace(self, channel: str) -> Optional[SlackApiFault]:
        # Token bucket: `burst` posts at once, refilled at `per_second`.
        per_second, burst = self._rate
        now = time.monotonic()
        tokens, last = self._buckets.get(channel, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * per_second)
        if tokens >= 1.0:
            self._buckets[channel] = (tokens - 1.0, now)
            return None
        self._buckets[channel] = (tokens, now)
        wait = max(1, math.ceil((1.0 - tokens) / per_second))  # header is whole seconds
        return SlackApiFault("ratelimited", status=429, headers={"Retry-After": str(wait)})
