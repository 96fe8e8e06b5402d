"""Public identifiers: Stripe-style prefixes on time-ordered, random suffixes."""

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case: sorts like the numbers


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
    millis = time.time_ns() // 1_000_000
    entropy = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_base32(millis, 10)}{_base32(entropy, 16)}"
