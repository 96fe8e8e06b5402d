"""What happens after an attempt: success, a retry (when), or giving up; and whether to disable.

Attempt 1 goes at once; after attempt ``n`` fails, attempt ``n + 1`` waits ``schedule[n - 1]`` with
±20 % jitter; past the end of the schedule the delivery has failed. 2xx is success, anything else
(redirects included) a failure. A 429 or 503 with ``Retry-After`` waits at least that long, never
less than the schedule says and never more than an hour beyond it. 410 Gone disables the subscriber.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

JITTER = 0.2
RETRY_AFTER_CAP_S = 3600.0
HTTP_OK_MIN, HTTP_OK_MAX = 200, 299
HTTP_GONE = 410
THROTTLED = frozenset({429, 503})
#: A subscriber failing this long with no success in between is disabled.
FAILING_WINDOW = timedelta(days=5)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one HTTP attempt of a delivery produced."""

    delivery_id: str
    #: The delivery's attempt number (1 for the first).
    attempt: int
    subscriber_id: str
    started_at: datetime
    duration_ms: int
    #: 0 when no HTTP answer came.
    status_code: int = 0
    #: The first 2 KB of the answer.
    response_body: str = ""
    error: str = ""
    retry_after: str = ""

    @property
    def succeeded(self) -> bool:
        """2xx, and only 2xx."""
        return HTTP_OK_MIN <= self.status_code <= HTTP_OK_MAX

    @property
    def gone(self) -> bool:
        """The receiver answered 410 Gone: it wants no more callbacks."""
        return self.status_code == HTTP_GONE


@dataclass(frozen=True, slots=True)
class Outcome:
    """An attempt and the delivery's next state: ``succeeded``, ``pending`` (with its time) or ``failed``."""

    attempt: Attempt
    status: str
    next_attempt_at: datetime | None = None


def retry_after_seconds(value: str, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date), if it parses."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def decide(attempt: Attempt, schedule: tuple[float, ...], now: datetime, rng: random.Random) -> Outcome:
    """The delivery's next state after ``attempt``."""
    if attempt.succeeded:
        return Outcome(attempt, "succeeded")
    if attempt.gone or attempt.attempt > len(schedule):
        return Outcome(attempt, "failed")
    delay = schedule[attempt.attempt - 1] * rng.uniform(1 - JITTER, 1 + JITTER)
    if attempt.status_code in THROTTLED:
        asked = retry_after_seconds(attempt.retry_after, now)
        if asked is not None:
            delay = max(delay, min(asked, delay + RETRY_AFTER_CAP_S))
    return Outcome(attempt, "pending", now + timedelta(seconds=delay))
