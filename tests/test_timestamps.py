"""Timestamps as the contract writes them."""

from datetime import UTC, datetime

import pytest

from gateway.timestamps import from_unix, iso, iso_of_unix, unix, unix_ms


@pytest.mark.parametrize("seconds", [1, 59, 951782400, 1764000000, 1764000059, 4102444799])
def test_a_unix_moment_reads_as_the_same_iso_text_both_ways(seconds: int) -> None:
    """The fast path for Unix seconds writes exactly what ``iso`` writes for the same moment."""
    assert iso_of_unix(seconds) == iso(from_unix(seconds))


def test_no_moment_is_empty_text_and_zero() -> None:
    """The contract never sends null: no moment is "" or 0."""
    assert (iso_of_unix(0), iso(None), unix(None), unix_ms(None), from_unix(0)) == ("", "", 0, 0, None)


def test_iso_is_utc_to_the_second() -> None:
    """Microseconds are dropped and any zone is turned to UTC ("Z")."""
    moment = datetime(2026, 11, 25, 18, 5, 0, 999_999, tzinfo=UTC)
    assert iso(moment) == "2026-11-25T18:05:00Z" == iso_of_unix(unix(moment))
    assert unix_ms(moment) == 1795629900999
