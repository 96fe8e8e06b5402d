"""Per-key rate limiting: a token bucket per API key, in process memory.

No-code platforms call from shared IP addresses, so limits follow the key, never the address.
Each process keeps its own buckets; with N web machines a key gets up to N times the rate.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.errors import RateLimited

MAX_BUCKETS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Allows ``capacity`` requests per ``period`` seconds per key, with bursts up to ``capacity``."""

    def __init__(self, capacity: int, period: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self.refill_per_second = capacity / period
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def hit(self, key: str) -> None:
        """Take one token for ``key`` or raise ``RateLimited`` with the seconds to wait."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._buckets.clear()  # a full reset is cheaper than LRU and only ever forgives
            bucket = self._buckets[key] = _Bucket(tokens=float(self.capacity), updated=now)
        else:
            bucket.tokens = min(
                self.capacity, bucket.tokens + (now - bucket.updated) * self.refill_per_second
            )
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return
        wait = math.ceil((1 - bucket.tokens) / self.refill_per_second)
        msg = f"Too many requests for this API key; retry in {wait} s."
        raise RateLimited(msg, headers={"Retry-After": str(wait)})
