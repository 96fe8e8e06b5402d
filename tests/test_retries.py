"""After an attempt: success, retry with jitter, Retry-After within bounds, giving up."""

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from gateway.retries import Attempt, decide, retry_after_seconds

NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
SCHEDULE = (5.0, 300.0, 1800.0)


def attempt(n: int = 1, status: int = 500, retry_after: str = "") -> Attempt:
    return Attempt("dlv_1", n, "sbr_1", NOW, 12, status_code=status, retry_after=retry_after)


def delay(outcome_at: datetime | None) -> float:
    assert outcome_at is not None
    return (outcome_at - NOW).total_seconds()


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_succeeds(status: int) -> None:
    """Any 2xx is a success; nothing more is scheduled."""
    outcome = decide(attempt(status=status), SCHEDULE, NOW, random.Random(1))
    assert (outcome.status, outcome.next_attempt_at) == ("succeeded", None)


@pytest.mark.parametrize("status", [0, 199, 301, 302, 400, 404, 500])
def test_anything_else_is_retried_on_schedule_with_jitter(status: int) -> None:
    """Attempt n is followed after schedule[n-1], ±20 %: never outside that band, not always the same."""
    for n, base in enumerate(SCHEDULE, start=1):
        delays = {
            delay(decide(attempt(n, status), SCHEDULE, NOW, random.Random(seed)).next_attempt_at)
            for seed in range(50)
        }
        assert all(base * 0.8 <= d <= base * 1.2 for d in delays)
        assert len(delays) > 40


def test_past_the_schedule_the_delivery_fails() -> None:
    """After 1 + len(schedule) attempts, the delivery has failed."""
    outcome = decide(attempt(len(SCHEDULE) + 1), SCHEDULE, NOW, random.Random(1))
    assert (outcome.status, outcome.next_attempt_at) == ("failed", None)


def test_410_fails_at_once() -> None:
    """410 Gone is not retried."""
    assert decide(attempt(1, 410), SCHEDULE, NOW, random.Random(1)).status == "failed"


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_pushes_the_next_attempt_later(status: int) -> None:
    """A longer Retry-After (seconds or HTTP date) wins over the schedule."""
    seconds = decide(attempt(1, status, "120"), SCHEDULE, NOW, random.Random(1))
    date = decide(
        attempt(1, status, format_datetime(NOW + timedelta(minutes=3), usegmt=True)),
        SCHEDULE,
        NOW,
        random.Random(1),
    )
    assert delay(seconds.next_attempt_at) == 120
    assert delay(date.next_attempt_at) == 180


def test_retry_after_stays_within_bounds() -> None:
    """Never sooner than the schedule, never more than an hour past it; ignored on other statuses."""
    sooner = decide(attempt(2, 429, "1"), SCHEDULE, NOW, random.Random(1))
    assert 240 <= delay(sooner.next_attempt_at) <= 360
    later = delay(decide(attempt(1, 503, "999999"), SCHEDULE, NOW, random.Random(1)).next_attempt_at)
    assert 3600 + 4 <= later <= 3600 + 6
    other = decide(attempt(1, 500, "120"), SCHEDULE, NOW, random.Random(1))
    assert delay(other.next_attempt_at) <= 6


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30.0),
        (" 0 ", 0.0),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("Wed, 21 Oct 2015 07:28:00", None),
    ],
)
def test_retry_after_parsing(value: str, expected: float | None) -> None:
    """Delta-seconds parse; garbage, negatives and dates without a zone do not."""
    assert retry_after_seconds(value, NOW) == expected


def test_retry_after_date_in_the_past_means_now() -> None:
    """An HTTP date already past asks for no wait at all."""
    assert retry_after_seconds(format_datetime(NOW - timedelta(hours=1), usegmt=True), NOW) == 0.0
