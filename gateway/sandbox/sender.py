"""Webhook delivery like Stripe's: each event POSTed as JSON to every endpoint that wants it.

Signed ``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`` with the endpoint's ``whsec_``
secret and retried a few times when the endpoint fails. Events reach one endpoint in order unless one
is being retried.
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp

if TYPE_CHECKING:
    from gateway.sandbox.store import Store

logger = logging.getLogger(__name__)
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
MAX_LOGGED = 1000


def signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header for ``payload``."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


@dataclass(frozen=True)
class Attempt:
    """One POST of one event to one endpoint, for tests and the curious."""

    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    attempt: int
    status: int
    error: str = ""

    @property
    def ok(self) -> bool:
        """Whether the endpoint answered 2xx."""
        return 200 <= self.status < 300  # noqa: PLR2004


class WebhookSender:
    """One queue and worker per endpoint, in the loop that serves the sandbox."""

    def __init__(self, store: "Store", *, retry_schedule: tuple[float, ...], timeout: float) -> None:
        self._store = store
        self.retry_schedule = retry_schedule
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._queues: dict[str, asyncio.Queue[tuple[str, int]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        #: The loop that serves the sandbox; until it is set, events wait in ``store.pending``.
        self.loop: asyncio.AbstractEventLoop | None = None
        #: Every attempt so far, oldest first (the last ``MAX_LOGGED``).
        self.attempts: list[Attempt] = []

    def send(self, event_id: str) -> None:
        """Queue the event's first attempt at each endpoint still pending for it."""
        for endpoint_id in self._store.pending.get(event_id, []):
            self._enqueue(endpoint_id, event_id, 1)

    def resume(self) -> None:
        """Start delivering in the running loop, first what is pending (from before a restart, say)."""
        self.loop = asyncio.get_running_loop()
        for event_id in list(self._store.pending):
            self.send(event_id)

    def _enqueue(self, endpoint_id: str, event_id: str, attempt: int) -> None:
        if self.loop is None:
            return  # nothing serves yet; ``resume`` picks it up
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is not self.loop:
            self.loop.call_soon_threadsafe(self._enqueue, endpoint_id, event_id, attempt)
            return
        queue = self._queues.get(endpoint_id)
        if queue is None:
            queue = self._queues[endpoint_id] = asyncio.Queue()
            task = asyncio.create_task(self._work(endpoint_id, queue), name=f"sandbox-webhooks-{endpoint_id}")
            self._tasks.add(task)
        queue.put_nowait((event_id, attempt))

    async def _work(self, endpoint_id: str, queue: "asyncio.Queue[tuple[str, int]]") -> None:
        while True:
            event_id, attempt = await queue.get()
            try:
                await self._attempt(endpoint_id, event_id, attempt)
            except Exception:
                logger.exception("sandbox webhook delivery failed unexpectedly")

    async def _attempt(self, endpoint_id: str, event_id: str, attempt: int) -> None:
        event = self._store.objects.get(event_id)
        endpoint = self._store.objects.get(endpoint_id)
        if event is None or endpoint is None or endpoint.get("deleted") or endpoint["status"] != "enabled":
            self._settle(endpoint_id, event_id)
            return
        payload = json.dumps(event, indent=2).encode()
        secret = self._store.private[endpoint_id]["secret"]
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature_header(payload, secret),
            "User-Agent": USER_AGENT,
        }
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        status, error = 0, ""
        try:
            async with self._session.post(endpoint["url"], data=payload, headers=headers) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = type(exc).__name__
        outcome = Attempt(event_id, event["type"], endpoint_id, endpoint["url"], attempt, status, error)
        self.attempts = [*self.attempts[-MAX_LOGGED + 1 :], outcome]
        if outcome.ok or attempt > len(self.retry_schedule):
            if not outcome.ok:
                self._store.private[f"undelivered:{event_id}"] = {"endpoint": endpoint_id}
            self._settle(endpoint_id, event_id)
            return
        loop = asyncio.get_running_loop()
        timer = loop.call_later(
            self.retry_schedule[attempt - 1], self._enqueue, endpoint_id, event_id, attempt + 1
        )
        self._timers.add(timer)

    def _settle(self, endpoint_id: str, event_id: str) -> None:
        """Done with this endpoint for this event (delivered, or given up)."""
        waiting = self._store.pending.get(event_id, [])
        if endpoint_id in waiting:
            waiting.remove(endpoint_id)
            event = self._store.objects.get(event_id)
            if event is not None:
                event["pending_webhooks"] = len(waiting)
        if not waiting:
            self._store.pending.pop(event_id, None)
        self._store.dirty = True

    async def close(self) -> None:
        """Stop the workers and close the HTTP session."""
        for timer in self._timers:
            timer.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._queues.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
