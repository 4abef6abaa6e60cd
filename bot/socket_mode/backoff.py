"""How long to wait before the next attempt to reach Slack."""
from __future__ import annotations

from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

# 0.25 s doubling per failed attempt, plus 0-1 s of random jitter (slack_sdk's)
_calculator = BackoffRetryIntervalCalculator(backoff_factor=0.25)


def retry_delay(failures: int, cap: float = 10.0) -> float:
    """Seconds before the next attempt after `failures` failed ones, at most `cap`. The
    exponent stops growing at 10 (the cap is reached long before), so hours of failures
    never overflow a float."""
    return min(cap, _calculator.calculate_sleep_duration(min(failures, 10)))
