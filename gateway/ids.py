"""Public identifiers: Stripe-style prefixes on time-ordered, random suffixes."""

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case: sorts like the numbers
#: Every pair of digits, by the 10 bits they encode: the random part is 8 look-ups, not 16 divisions.
_PAIRS = [high + low for high in _ALPHABET for low in _ALPHABET]
#: The last millisecond seen and its 10 characters (four IDs per Stripe event share it under load).
_clock: tuple[int, str] = (-1, "")


def _base32(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A new ID such as ``key_01jx…``: 10 characters of milliseconds, then 16 random ones.

    IDs made later sort after IDs made earlier (to the millisecond), so lists can page by ID.
    """
    global _clock  # noqa: PLW0603  (a one-entry cache; a race only recomputes it)
    millis = time.time_ns() // 1_000_000
    clock = _clock
    if clock[0] != millis:
        clock = _clock = (millis, _base32(millis, 10))
    # 10 random bytes are 80 bits: exactly 16 base32 digits, big-endian like ``_base32``.
    bits = int.from_bytes(os.urandom(10), "big")
    entropy = "".join([_PAIRS[(bits >> shift) & 1023] for shift in (70, 60, 50, 40, 30, 20, 10, 0)])
    return f"{prefix}_{clock[1]}{entropy}"
