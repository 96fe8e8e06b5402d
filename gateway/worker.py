"""The delivery worker: claims due deliveries in batches, sends them concurrently, records outcomes.

One *pump* task talks to the database: each round is one transaction that records the outcomes
finished since the last round and claims as many due deliveries as there are free senders. While it
waits on the database, senders keep sending and outcomes pile up for the next round, so commits stay
few however fast deliveries go. ``concurrency`` sender tasks share one aiohttp session.

The pump sleeps until an outcome arrives, the next delivery falls due, a commit elsewhere queued
deliveries (``OutboxNotifier`` in this process, ``LISTEN``/``NOTIFY`` on PostgreSQL) or the polling
backstop fires. ``stop()`` stops claiming, lets the attempts in flight finish and records them.
"""

import asyncio
import contextlib
import gc
import heapq
import logging
import os
import random
import secrets
import signal
import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import aiohttp
from litestar import Litestar

from gateway.egress import CallbackGuard
from gateway.logs import configure_logging
from gateway.metrics import count_delivery_attempt, metrics_listener
from gateway.models import utcnow
from gateway.outbox import OutboxNotifier, listen_for_deliveries
from gateway.queue import Claim, Destination, open_queue
from gateway.retries import Attempt, Outcome, decide
from gateway.sender import Target, make_http_session, send, target_of
from gateway.settings import Settings
from gateway.vault import Vault

logger = logging.getLogger(__name__)

#: Polling backstop: with ``LISTEN`` on PostgreSQL, and without it (SQLite, a lost connection).
POLL_LISTENING_S = 1.0
POLL_S = 0.25
MAX_BACKOFF_S = 30.0
#: Deliveries held per sender: one under way, one claimed and waiting, so no sender waits on the database.
PREFETCH = 2
#: After ``stop()``, how long past the delivery timeout to wait for attempts in flight.
SHUTDOWN_GRACE_S = 5.0


def worker_name() -> str:
    """``host:pid:random``, the lease owner written on claimed deliveries."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    """Delivers due callbacks until stopped."""

    def __init__(
        self,
        *,
        settings: Settings,
        vault: Vault,
        guard: CallbackGuard,
        concurrency: int | None = None,
        clock: Callable[[], datetime] = utcnow,
        http: aiohttp.ClientSession | None = None,
        name: str | None = None,
    ) -> None:
        self.settings = settings
        self.concurrency = concurrency or settings.worker_concurrency
        self.queue = open_queue(settings, owner=name or worker_name())
        self._postgres = not settings.is_sqlite
        self._vault = vault
        self._guard = guard
        self._clock = clock
        self._http = http
        self._rng = random.Random()  # noqa: S311  (jitter, not secrets)
        self._targets: dict[str, tuple[datetime, Target | None]] = {}
        self._ready: asyncio.Queue[Claim | None] = asyncio.Queue()
        self._outcomes: list[Outcome] = []
        #: Claimed deliveries whose outcome is not recorded yet, per subscriber.
        self._held: Counter[str] = Counter()
        #: When the retries this worker scheduled fall due (a heap).
        self._retries: list[datetime] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self._listening = False

    @property
    def name(self) -> str:
        """The lease owner this worker writes."""
        return self.queue.owner

    def wake(self) -> None:
        """Look for due deliveries now."""
        self._wake.set()

    def _heard(self, *, listening: bool) -> None:
        self._listening = listening

    @property
    def stopping(self) -> bool:
        """Whether ``stop()`` was called."""
        return self._stopping

    def stop(self) -> None:
        """Stop claiming; ``run`` returns once the attempts in flight are recorded."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver until ``stop()``; cancelling abandons attempts in flight (their leases expire)."""
        http = self._http or make_http_session(
            self._guard, concurrency=self.concurrency, timeout_s=self.settings.delivery_timeout
        )
        senders = [asyncio.create_task(self._sender(http)) for _ in range(self.concurrency)]
        listener = (
            asyncio.create_task(listen_for_deliveries(self.settings, self.wake, self._heard))
            if self._postgres
            else None
        )
        try:
            await self._pump()
        finally:
            for task in senders:
                task.cancel()
            if listener is not None:
                listener.cancel()
            await asyncio.gather(*senders, *([listener] if listener else []), return_exceptions=True)
            if self._http is None:
                await http.close()
            await self.queue.close()

    async def _pump(self) -> None:
        failures = 0
        with contextlib.suppress(Exception):  # tidy up after crashed workers; not needed to deliver
            await self.queue.release(self._clock())
        while True:
            self._wake.clear()
            stopping = self._stopping
            outcomes, self._outcomes = self._outcomes, []
            held = self._held - Counter(o.attempt.subscriber_id for o in outcomes)
            capacity = 0 if stopping else PREFETCH * self.concurrency - held.total()
            now = self._clock()
            try:
                got = await self.queue.exchange(outcomes, capacity, now, held=dict(held))
            except Exception:
                self._outcomes[:0] = outcomes
                failures += 1
                logger.exception("delivery queue unavailable; retrying", extra={"failures": failures})
                await self._sleep(min(MAX_BACKOFF_S, 0.25 * 2**failures))
                continue
            failures = 0
            self._held = held + Counter(claim.subscriber_id for claim in got.claims)
            self._remember(got.destinations)
            for subscriber_id, reason in got.disabled.items():
                logger.warning(
                    "subscriber disabled", extra={"subscriber_id": subscriber_id, "reason": reason}
                )
            for outcome in outcomes:
                if outcome.next_attempt_at is not None:
                    heapq.heappush(self._retries, outcome.next_attempt_at)
            for claim in got.claims:
                self._ready.put_nowait(claim)
            if stopping and not self._held and not self._outcomes:
                with contextlib.suppress(Exception):
                    await self.queue.release(self._clock())
                return
            if not self._outcomes:
                await self._sleep(self._idle_wait(now, full=len(got.claims) == capacity))

    def _idle_wait(self, now: datetime, *, full: bool) -> float:
        """Until the polling backstop, or sooner when a retry this worker scheduled falls due."""
        wait = POLL_LISTENING_S if self._listening else POLL_S
        while self._retries and self._retries[0] <= now:
            heapq.heappop(self._retries)
        if self._retries and not full:
            wait = min(wait, (self._retries[0] - now).total_seconds())
        return wait

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _remember(self, destinations: list[Destination]) -> None:
        for destination in destinations:
            cached = self._targets.get(destination.id)
            if cached is not None and cached[0] == destination.updated_at:
                continue
            try:
                target: Target | None = target_of(destination, self._vault, self._guard)
            except Exception:
                logger.exception("subscriber settings unreadable", extra={"subscriber_id": destination.id})
                target = None
            self._targets[destination.id] = (destination.updated_at, target)

    async def _sender(self, http: aiohttp.ClientSession) -> None:
        while (claim := await self._ready.get()) is not None:
            cached = self._targets.get(claim.subscriber_id)
            try:
                if cached is None or cached[1] is None:
                    attempt = _broken(claim, self._clock(), "subscriber settings unreadable")
                else:
                    attempt = await send(http, cached[1], claim, clock=self._clock)
            except Exception as exc:
                logger.exception("delivery attempt crashed", extra={"delivery_id": claim.delivery_id})
                attempt = _broken(claim, self._clock(), f"internal error: {type(exc).__name__}")
            self._outcomes.append(
                count_delivery_attempt(
                    decide(attempt, self.settings.retry_schedule, self._clock(), self._rng)
                )
            )
            self._wake.set()


def _broken(claim: Claim, now: datetime, error: str) -> Attempt:
    return Attempt(claim.delivery_id, claim.attempt, claim.subscriber_id, now, 0, error=error)


async def stop_worker(worker: Worker, task: asyncio.Task[None]) -> None:
    """Stop gracefully; past the delivery timeout and a grace period, abandon what is still in flight."""
    worker.stop()
    try:
        await asyncio.wait_for(asyncio.shield(task), worker.settings.delivery_timeout + SHUTDOWN_GRACE_S)
    except TimeoutError:
        logger.warning("delivery worker did not stop in time; its leases will expire")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def deliveries_lifespan(app: Litestar) -> AsyncIterator[None]:
    """The callback guard, commit wake-ups and, unless ``GATEWAY_WORKER=off``, the embedded worker."""
    state = app.state
    settings: Settings = state.settings
    state.callback_guard = CallbackGuard(allow_private=settings.allow_private_callbacks)
    notifier = state.outbox_notifier = OutboxNotifier(state.engine, settings)
    notifier.install(state.session_factory)
    state.worker = None
    task = None
    if settings.worker == "embedded":
        state.worker = Worker(settings=settings, vault=state.vault, guard=state.callback_guard)
        notifier.subscribe(state.worker.wake)
        task = asyncio.create_task(state.worker.run(), name="delivery-worker")
    try:
        yield
    finally:
        if task is not None:
            await stop_worker(state.worker, task)
        await notifier.close()


def run_worker(settings: Settings, concurrency: int | None = None) -> None:
    """``gateway worker``: deliver until SIGTERM/SIGINT (a second signal abandons attempts in flight)."""
    configure_logging()  # as ``gateway serve`` does in create_app: JSON lines, info and up

    async def main() -> None:
        worker = Worker(
            settings=settings,
            vault=Vault(settings.secret_keys()),
            guard=CallbackGuard(allow_private=settings.allow_private_callbacks),
            concurrency=concurrency,
        )
        task = asyncio.create_task(worker.run())
        gc.collect()  # as ``gateway serve`` does: startup's objects stay out of later collections
        gc.freeze()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if worker.stopping:
                task.cancel()
            worker.stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        logger.info(
            "delivery worker started", extra={"worker": worker.name, "concurrency": worker.concurrency}
        )
        with contextlib.suppress(asyncio.CancelledError):
            async with metrics_listener(settings):
                await task
        logger.info("delivery worker stopped", extra={"worker": worker.name})

    try:
        import uvloop  # noqa: PLC0415  (optional: the faster loop when installed)
    except ImportError:
        asyncio.run(main())
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main())
