"""Public identifiers: prefix, time order, and the random part in Crockford base32."""

import pytest

from gateway import ids


def test_ids_have_the_prefix_and_26_crockford_digits() -> None:
    """``prefix_`` then 10 digits of time and 16 random ones, all from the lower-case Crockford alphabet."""
    made = {ids.new_id("dlv") for _ in range(1000)}
    assert len(made) == 1000
    for value in made:
        prefix, _, digits = value.partition("_")
        assert prefix == "dlv"
        assert len(digits) == 26
        assert set(digits) <= set("0123456789abcdefghjkmnpqrstvwxyz")


def test_random_part_is_the_bytes_in_base32(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 16 random digits are the 80 random bits, big-endian, as the time digits are written."""
    raw = bytes(range(246, 256))
    monkeypatch.setattr(ids.os, "urandom", lambda n: raw[:n])
    assert ids.new_id("evt").endswith(ids._base32(int.from_bytes(raw, "big"), 16))


def test_later_ids_sort_after_earlier_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ID made a millisecond later sorts after one made before, whatever its random part."""
    now = [1_764_000_000_000_000_000]
    monkeypatch.setattr(ids.time, "time_ns", lambda: now[0])
    monkeypatch.setattr(ids.os, "urandom", lambda n: b"\xff" * n)
    first = ids.new_id("evt")
    now[0] += 1_000_000
    monkeypatch.setattr(ids.os, "urandom", lambda n: b"\x00" * n)
    assert ids.new_id("evt") > first
