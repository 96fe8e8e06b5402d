"""A sender that behaves like Stripe: each event signed anew on every try, re-sent until answered 2xx."""

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

from tests.journeys.stripe_histories import PlannedEvent
from tests.stripe_payloads import signed

#: Stripe waits longer between tries; the scenario needs them within seconds.
FIRST_BACKOFF_S = 0.05
MAX_BACKOFF_S = 1.0
HTTP_OK_MIN, HTTP_OK_MAX = 200, 299


@dataclass
class StripeSender:
    """Posts events to one workspace's webhook URL with ``concurrency`` connections at most."""

    base_url: str
    workspace_id: str
    secret: str
    concurrency: int = 24
    timeout_s: float = 10.0
    rng: random.Random = field(default_factory=random.Random)
    #: Copies posted and answered 2xx (the progress that faults are timed by).
    accepted: int = 0
    posts: int = 0
    #: Why posts were rejected: an HTTP status, or the transport error's name.
    rejections: Counter[str] = field(default_factory=Counter)
    #: The event IDs of copies rejected at least once (each was re-sent until accepted).
    retried: set[str] = field(default_factory=set)
    #: The event IDs answered 2xx, with the outcome the gateway gave each time.
    outcomes: dict[str, list[str]] = field(default_factory=dict)

    async def send_all(self, order: list[PlannedEvent]) -> None:
        """Post every event of ``order`` (repeats included) until each copy is accepted."""
        pending = iter(order)
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(self.base_url, connector=connector, timeout=timeout) as http:

            async def lane() -> None:
                for planned in pending:
                    await self._deliver(http, planned)

            await asyncio.gather(*(lane() for _ in range(self.concurrency)))

    async def _deliver(self, http: aiohttp.ClientSession, planned: PlannedEvent) -> None:
        backoff = FIRST_BACKOFF_S
        while True:
            self.posts += 1
            try:
                async with http.post(
                    f"/v1/stripe/webhooks/{self.workspace_id}",
                    data=planned.body,
                    headers=signed(planned.body, self.secret),
                ) as response:
                    status = response.status
                    answer = await response.json() if HTTP_OK_MIN <= status <= HTTP_OK_MAX else None
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = type(exc).__name__
            else:
                if answer is not None:
                    self.outcomes.setdefault(planned.event_id, []).append(answer["outcome"])
                    self.accepted += 1
                    return
                reason = str(status)
            self.rejections[reason] += 1
            self.retried.add(planned.event_id)
            await asyncio.sleep(backoff * self.rng.uniform(0.5, 1.5))
            backoff = min(MAX_BACKOFF_S, backoff * 2)
