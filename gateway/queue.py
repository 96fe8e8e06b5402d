"""The delivery queue in the database: outcomes recorded and due deliveries claimed, in batches.

One transaction (an *exchange*) writes the outcomes of finished attempts and claims the next due
deliveries, so a busy worker commits a few hundred times a second whatever its throughput. A claim is
a lease: the row gets an owner and an expiry, and a pending row whose lease has run out is due again,
so a crashed worker's deliveries are picked up by another. ``attempts`` grows at claim time and
fences the outcome: a worker whose lease was taken over cannot overwrite the newer attempt. A claim
sets only unindexed columns (on PostgreSQL a HOT update: no index churn, no index bloat).

Each subscriber gets at most ``max_in_flight`` deliveries in flight across all workers: every worker
writes how many of each subscriber's deliveries it holds (``subscriber_leases``, expiring with its
leases if it dies), and claims only what the others leave. Claims for one subscriber never run at
once: PostgreSQL locks its row ``FOR NO KEY UPDATE SKIP LOCKED`` (a busy subscriber is skipped; only a
worker that finds every due subscriber busy waits for them, in ID order, rather than idle until its
next wake-up) and takes deliveries ``FOR UPDATE SKIP LOCKED``; SQLite runs each exchange inside
``BEGIN IMMEDIATE``.

The exchange is written once, as a plan of steps (``exchange_plan``); each database runs the steps its
own way (``gateway.sqlite_queue``: stdlib ``sqlite3`` on one thread, the whole exchange in one hop;
``gateway.postgres_queue``: asyncpg, each step one statement over arrays). The hot path skips the ORM:
it made an exchange several times slower.
"""

import random
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from gateway.retries import FAILING_WINDOW, Outcome
from gateway.settings import Settings

#: Subscribers considered per claim (each may get up to its ``max_in_flight``).
SUBSCRIBERS_PER_CLAIM = 200
MAX_ERROR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery leased to this worker for one attempt."""

    delivery_id: str
    subscriber_id: str
    message_id: str
    body: bytes
    #: This attempt's number (1 for the first).
    attempt: int


@dataclass(frozen=True, slots=True)
class Destination:
    """A subscriber as the worker needs it (secrets still encrypted)."""

    id: str
    url: str
    headers_enc: str
    secret_enc: str
    previous_secret_enc: str
    previous_secret_expires_at: datetime | None
    updated_at: datetime
    max_in_flight: int


@dataclass(frozen=True, slots=True)
class Exchanged:
    """What one exchange claimed, and for whom."""

    claims: list[Claim]
    destinations: list[Destination]
    #: Subscribers this exchange disabled, with the reason (``gone`` or ``failing``).
    disabled: dict[str, str]


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """An outcome as written: the delivery's new state and the attempt's log row."""

    delivery_id: str
    attempt: int
    status: str
    next_attempt_at: datetime | None
    status_code: int
    error: str
    started_at: datetime
    duration_ms: int
    response_body: str


@dataclass(frozen=True, slots=True)
class Record:
    """Everything an exchange writes about finished attempts."""

    now: datetime
    rows: list[AttemptRow]
    #: Subscribers with a success / with a failure in this batch.
    succeeded: list[str]
    failed: list[str]
    #: Subscribers that answered 410 Gone.
    gone: list[str]
    #: Subscribers failing since before this moment (and not succeeding in this batch) get disabled.
    failing_before: datetime
    maybe_failing: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Lease:
    """Who claims, until when, and how many of each subscriber's due deliveries."""

    now: datetime
    owner: str
    until: datetime
    shares: dict[str, int]


@dataclass(frozen=True, slots=True)
class Holding:
    """How many deliveries of each subscriber a worker holds, as other workers should see it."""

    owner: str
    until: datetime
    counts: dict[str, int]


#: A step of an exchange: its name and argument; the database answers with the step's result.
Step = tuple[str, Any]
Plan = Generator[Step, Any, Exchanged]


def exchange_plan(
    outcomes: list[Outcome],
    capacity: int,
    now: datetime,
    *,
    held: dict[str, int],
    owner: str,
    lease: timedelta,
    rng: random.Random,
) -> Plan:
    """The steps of one exchange: record ``outcomes``, then claim up to ``capacity`` due deliveries.

    ``held`` counts, per subscriber, the deliveries this worker still holds once ``outcomes`` are
    recorded; with the other workers' counts it bounds each subscriber's claims by its cap.
    """
    disabled: dict[str, str] = {}
    if outcomes:
        disabled = yield ("record", _record(outcomes, now))
    claims: list[Claim] = []
    destinations: list[Destination] = []
    if capacity > 0:
        candidates: list[Destination] = yield ("candidates", now)
        if candidates:
            others: dict[str, int] = yield ("others", ([d.id for d in candidates], owner, now))
            room = {d.id: d.max_in_flight - held.get(d.id, 0) - others.get(d.id, 0) for d in candidates}
            shares = fair_shares(room, capacity, rng)
            if shares:
                claims = yield ("claim", Lease(now, owner, now + lease, shares))
                wanted = {claim.subscriber_id for claim in claims}
                destinations = [d for d in candidates if d.id in wanted]
    touched = {o.attempt.subscriber_id for o in outcomes} | {c.subscriber_id for c in claims}
    if touched:
        counts = dict.fromkeys(touched, 0) | {sid: held[sid] for sid in touched if sid in held}
        for claim in claims:
            counts[claim.subscriber_id] += 1
        yield ("hold", Holding(owner, now + lease, counts))
    return Exchanged(claims, destinations, disabled)


def _record(outcomes: list[Outcome], now: datetime) -> Record:
    rows = [
        AttemptRow(
            delivery_id=o.attempt.delivery_id,
            attempt=o.attempt.attempt,
            status=o.status,
            next_attempt_at=o.next_attempt_at,
            status_code=o.attempt.status_code,
            error=o.attempt.error[:MAX_ERROR_LENGTH],
            started_at=o.attempt.started_at,
            duration_ms=o.attempt.duration_ms,
            response_body=o.attempt.response_body,
        )
        for o in outcomes
    ]
    succeeded = {o.attempt.subscriber_id for o in outcomes if o.status == "succeeded"}
    failed = {o.attempt.subscriber_id for o in outcomes if o.status != "succeeded"}
    gone = {o.attempt.subscriber_id for o in outcomes if o.attempt.gone}
    return Record(
        now=now,
        rows=rows,
        succeeded=sorted(succeeded),
        failed=sorted(failed),
        gone=sorted(gone),
        failing_before=now - FAILING_WINDOW,
        maybe_failing=sorted(failed - succeeded - gone),
    )


def fair_shares(room: dict[str, int], capacity: int, rng: random.Random) -> dict[str, int]:
    """Split ``capacity`` among subscribers with ``room``, one at a time round-robin from a random start."""
    order = [sid for sid, free in room.items() if free > 0]
    rng.shuffle(order)
    shares: dict[str, int] = {}
    while capacity > 0 and order:
        for sid in list(order):
            if capacity == 0:
                break
            shares[sid] = shares.get(sid, 0) + 1
            capacity -= 1
            if shares[sid] >= room[sid]:
                order.remove(sid)
    return shares


class QueueBackend(Protocol):
    """Runs exchange plans against one database."""

    async def run(self, plan: Plan) -> Exchanged:
        """Run every step of ``plan`` in one transaction and return its result."""
        ...

    async def release(self, owner: str, now: datetime) -> None:
        """Forget ``owner``'s holdings, and every holding expired by ``now``."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...


class DeliveryQueue:
    """Claims and outcomes for one worker (``owner``), in exchange transactions."""

    def __init__(self, backend: QueueBackend, *, owner: str, lease_s: float) -> None:
        self._backend = backend
        self.owner = owner
        self._lease = timedelta(seconds=lease_s)
        self._rng = random.Random()  # noqa: S311  (fair shares, not secrets)

    async def exchange(
        self, outcomes: list[Outcome], capacity: int, now: datetime, *, held: dict[str, int]
    ) -> Exchanged:
        """Record ``outcomes``, then claim up to ``capacity`` due deliveries, in one transaction."""
        plan = exchange_plan(
            outcomes, capacity, now, held=held, owner=self.owner, lease=self._lease, rng=self._rng
        )
        return await self._backend.run(plan)

    async def release(self, now: datetime) -> None:
        """Say this worker holds nothing any more (and tidy up after workers that crashed)."""
        await self._backend.release(self.owner, now)

    async def close(self) -> None:
        """Release the database connection."""
        await self._backend.close()


def open_queue(settings: Settings, *, owner: str) -> DeliveryQueue:
    """The queue on ``GATEWAY_DATABASE_URL`` (PostgreSQL or SQLite)."""
    backend: QueueBackend
    if settings.is_sqlite:
        from gateway.sqlite_queue import SqliteQueue  # noqa: PLC0415  (each backend loads its driver)

        backend = SqliteQueue(settings)
    else:
        from gateway.postgres_queue import PostgresQueue  # noqa: PLC0415

        backend = PostgresQueue(settings)
    return DeliveryQueue(backend, owner=owner, lease_s=settings.delivery_lease_s)
