"""The durable outbox: delivery rows written in the same transaction as the events they carry.

Workers find new rows by polling, but are woken sooner: when a transaction that queued deliveries
commits, the process's ``OutboxNotifier`` wakes its embedded worker and, on PostgreSQL, sends one
``NOTIFY`` (coalesced, outside the committing transaction) that every ``gateway worker`` listens for.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import Session
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.ids import new_id
from gateway.models import Delivery, Event, StripeEvent, Subscriber
from gateway.settings import Settings

logger = logging.getLogger(__name__)

#: After a lost ``LISTEN`` connection, seconds before the next try (polling covers the gap).
RELISTEN_S = 1.0

_QUEUED = "outbox_queued"
_NOTIFIER = "outbox_notifier"


def wants(subscriber: Subscriber, event_type: str) -> bool:
    """Whether ``subscriber`` subscribed to flat events of ``event_type``."""
    return "*" in subscriber.event_types or event_type in subscriber.event_types


async def enqueue(
    session: AsyncSession,
    *,
    workspace_id: str,
    events: Sequence[Event],
    stripe_event: StripeEvent | None = None,
    subscribers: Sequence[Subscriber] | None = None,
) -> list[Delivery]:
    """Queue ``events`` for every enabled subscriber that wants them (or for ``subscribers`` only).

    A ``flat`` subscriber gets one delivery per matching flat event. A ``stripe`` subscriber gets
    the original Stripe event once, when any of the flat events made from it matches its filter.
    Nothing is sent here: the caller commits, and the worker delivers.
    """
    if subscribers is None:
        query = select(Subscriber).where(Subscriber.workspace_id == workspace_id, Subscriber.enabled)
        subscribers = list((await session.exec(query)).all())
    deliveries: list[Delivery] = []
    for subscriber in subscribers:
        matching = [event for event in events if wants(subscriber, event.event_type)]
        if not matching:
            continue
        if subscriber.format == "stripe":
            if stripe_event is not None:
                deliveries.append(_delivery(subscriber, stripe_event=stripe_event))
            continue
        deliveries.extend(_delivery(subscriber, event=event) for event in matching)
    session.add_all(deliveries)
    if deliveries:
        session.info[_QUEUED] = True
    return deliveries


def _delivery(
    subscriber: Subscriber, *, event: Event | None = None, stripe_event: StripeEvent | None = None
) -> Delivery:
    if event is not None:
        return Delivery(
            id=new_id("dlv"),
            workspace_id=subscriber.workspace_id,
            subscriber_id=subscriber.id,
            event_id=event.id,
            stripe_event_id=event.stripe_event_id,
            event_type=event.event_type,
            message_id=event.id,
            body=event.body,
        )
    assert stripe_event is not None  # noqa: S101  (one of the two is always given)
    return Delivery(
        id=new_id("dlv"),
        workspace_id=subscriber.workspace_id,
        subscriber_id=subscriber.id,
        stripe_event_id=stripe_event.stripe_event_id,
        event_type=stripe_event.type,
        message_id=stripe_event.stripe_event_id,
        body=stripe_event.payload,
    )


def mark_queued(session: AsyncSession) -> None:
    """Have workers woken when ``session`` commits (for code that queues deliveries without ``enqueue``)."""
    session.info[_QUEUED] = True


def wake_channel(settings: Settings) -> str:
    """The PostgreSQL ``LISTEN``/``NOTIFY`` channel of this database (and schema)."""
    return "gateway_deliveries" + (f"_{settings.database_schema}" if settings.database_schema else "")


class OutboxNotifier:
    """Wakes delivery workers after commits that queued deliveries (here, and on PostgreSQL everywhere)."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self._channel = wake_channel(settings)
        self._postgres = engine.dialect.name == "postgresql"
        self._loop = asyncio.get_running_loop()
        self._wakers: list[Callable[[], None]] = []
        self._notifying: asyncio.Task[None] | None = None
        self._again = False
        self._poke_pending = False

    def install(self, factory: async_sessionmaker[AsyncSession]) -> None:
        """Watch commits of sessions made by ``factory``."""
        if not event.contains(Session, "after_commit", _after_commit):
            event.listen(Session, "after_commit", _after_commit)
            event.listen(Session, "after_rollback", _after_rollback)
        factory.configure(info={_NOTIFIER: self})

    def subscribe(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` (in this loop) after each such commit."""
        self._wakers.append(wake)

    def poke(self) -> None:
        """Deliveries were committed (callable from any thread)."""
        # A batch of 50 events pokes 50 times in one turn of the loop: one wake-up serves them all.
        if self._poke_pending:
            return
        self._poke_pending = True
        self._loop.call_soon_threadsafe(self._poked)

    def _poked(self) -> None:
        self._poke_pending = False  # before waking: a commit after this point pokes again
        for wake in self._wakers:
            wake()
        if not self._postgres:
            return
        if self._notifying is None or self._notifying.done():
            self._notifying = self._loop.create_task(self._notify())
        else:
            self._again = True  # one more NOTIFY after the one in flight covers every commit since

    async def _notify(self) -> None:
        while True:
            self._again = False
            try:
                async with self._engine.connect() as conn:
                    await conn.exec_driver_sql(f"NOTIFY {self._channel}")
                    await conn.commit()
            except Exception:  # noqa: BLE001  (workers poll anyway; a lost wake-up only delays)
                logger.warning("could not notify delivery workers; they will find the deliveries by polling")
            if not self._again:
                return

    async def close(self) -> None:
        """Finish a NOTIFY in flight."""
        if self._notifying is not None:
            with contextlib.suppress(Exception):
                await self._notifying


async def listen_for_deliveries(
    settings: Settings, wake: Callable[[], None], heard: Callable[..., None]
) -> None:
    """Call ``wake`` on each ``NOTIFY``, forever; ``heard(listening=False)`` while not listening (poll then).

    A dropped connection is opened again after ``RELISTEN_S``; each new one wakes once at first, to
    catch up with whatever was queued while nobody listened.
    """
    # Only PostgreSQL listens: SQLite deployments never load asyncpg (126 ms and a few MB at startup).
    import asyncpg  # noqa: PLC0415

    from gateway.postgres_queue import asyncpg_dsn  # noqa: PLC0415

    dsn, channel = asyncpg_dsn(settings), wake_channel(settings)
    while True:
        conn = None
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
            closed = asyncio.Event()
            conn.add_termination_listener(lambda _conn, closed=closed: closed.set())
            await conn.add_listener(channel, lambda *_: wake())
            heard(listening=True)
            wake()
            await closed.wait()
        except (OSError, TimeoutError, asyncpg.PostgresError):
            logger.warning("cannot LISTEN for deliveries; polling meanwhile")
        finally:
            heard(listening=False)
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=1)
        await asyncio.sleep(RELISTEN_S)


def _after_commit(session: Session) -> None:
    if session.info.pop(_QUEUED, False):
        notifier: Any = session.info.get(_NOTIFIER)
        if notifier is not None:
            notifier.poke()


def _after_rollback(session: Session) -> None:
    session.info.pop(_QUEUED, None)
