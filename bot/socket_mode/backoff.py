"""How long to wait before the next attempt to reach Slack."""
from __future__ import annotations

import logging
import time
from typing import Callable

from slack_sdk.errors import SlackApiError

from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

from bot.config import ConfigError

# 0.25 s doubling per failed attempt, plus 0-1 s of random jitter (slack_sdk's)
_calculator = BackoffRetryIntervalCalculator(backoff_factor=0.25)


def retry_delay(failures: int, cap: float = 10.0) -> float:
    """Seconds before the next attempt after `failures` failed ones, at most `cap`. The
    exponent stops growing at 10 (the cap is reached long before), so hours of failures
    never overflow a float."""
    return min(cap, _calculator.calculate_sleep_duration(min(failures, 10)))


def _slack_reason(error: Exception) -> str:
    return (error.response.get("error") if isinstance(error, SlackApiError) and error.response is not None
            else None) or type(error).__name__


def keep_trying(attempt: Callable[[], object], what: str, log: logging.Logger, max_backoff: float = 10.0,
                *, reason_of: Callable[[Exception], str] = _slack_reason) -> None:
    """Call `attempt` until it returns. A ConfigError (the operator's setting is wrong) goes
    straight up; any other failure is the service being out of reach (Slack, or the database
    for bot.database_wait): logged as `what` with reason_of(error) and tried again after
    retry_delay."""
    failures = 0
    while True:
        try:
            attempt()
            return
        except ConfigError:
            raise
        except Exception as error:
            reason = reason_of(error)
            delay = retry_delay(failures, max_backoff)
            failures += 1
            log.warning("%s (%s); next attempt in %.1f s", what, reason, delay)
            time.sleep(delay)
