"""Ingest in batches: one transaction per batch, all or nothing, one bad event failing alone."""

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import Connection, func, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import ingest
from gateway.group_commit import GroupCommitter
from gateway.ingest import Outcome, Work, apply_batch
from gateway.models import Customer, Delivery, Event, StripeEvent, Subscription
from gateway.settings import Settings
from gateway.stripe_events import VerifiedEvent, parse_event
from gateway.vault import Vault
from gateway.writer import Writer
from tests import stripe_payloads as sp
from tests.support import Database, Tenant, assert_error

pytestmark = pytest.mark.anyio

TABLES = (StripeEvent, Subscription, Customer, Event, Delivery)
NOTHING = {"stripe_events": 0, "subscriptions": 0, "customers": 0, "events": 0, "deliveries": 0}


class CountingWriter(Writer):
    """A writer that counts its transactions."""

    transactions = 0

    async def run(self, work: Callable[[Connection], Any]) -> Any:
        self.transactions += 1
        return await super().run(work)


@pytest.fixture
async def writer(settings: Settings, db: async_sessionmaker[AsyncSession]) -> AsyncIterator[CountingWriter]:
    writer = CountingWriter(settings)
    yield writer
    await writer.close()


@pytest.fixture
async def hooked(tenant: Tenant, db: async_sessionmaker[AsyncSession], vault: Vault) -> Tenant:
    await sp.enable_webhooks(db, vault, tenant.workspace_id)
    return tenant


def verified(tenant: Tenant, stripe_event: dict[str, Any]) -> VerifiedEvent:
    return parse_event(tenant.workspace_id, sp.body_of(stripe_event))


async def row_counts(db: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with db() as session:
        return {
            table.__tablename__: (await session.exec(select(func.count()).select_from(table))).one()  # type: ignore[attr-defined]
            for table in TABLES
        }


def subscription_events(tenant: Tenant, count: int) -> list[VerifiedEvent]:
    return [
        verified(
            tenant,
            sp.event("customer.subscription.created", sp.subscription(f"sub_{i}", customer=f"cus_{i}")),
        )
        for i in range(count)
    ]


async def test_copies_within_one_batch_apply_once(hooked: Tenant, writer: Writer) -> None:
    """Two copies of an event in the same batch: the first applies, the second is a duplicate."""
    first, second = subscription_events(hooked, 2)
    outcomes = await writer.run(lambda c: apply_batch(c, [first, first, second, first]))
    assert outcomes == ["applied", "duplicate", "applied", "duplicate"]


async def test_duplicates_are_matched_by_workspace_and_event_together(
    hooked: Tenant, other_tenant: Tenant, writer: Writer, db: async_sessionmaker[AsyncSession], vault: Vault
) -> None:
    """A's evt_1 and B's evt_2 stored: B's evt_1 and A's evt_2 are new (two Stripe accounts, same IDs)."""
    await sp.enable_webhooks(db, vault, other_tenant.workspace_id)

    def event_of(tenant: Tenant, stripe_id: str, subscription: str) -> VerifiedEvent:
        obj = sp.subscription(subscription, customer="cus_1")
        return verified(tenant, sp.event("customer.subscription.created", obj, event_id=stripe_id))

    stored = [event_of(hooked, "evt_1", "sub_a1"), event_of(other_tenant, "evt_2", "sub_b2")]
    assert await writer.run(lambda c: apply_batch(c, stored)) == ["applied", "applied"]
    crossed = [event_of(other_tenant, "evt_1", "sub_b1"), event_of(hooked, "evt_2", "sub_a2"), *stored]
    outcomes = await writer.run(lambda c: apply_batch(c, crossed))
    assert outcomes == ["applied", "applied", "duplicate", "duplicate"]
    assert (await row_counts(db))["subscriptions"] == 4


async def test_concurrent_events_share_transactions(
    hooked: Tenant, writer: CountingWriter, db: async_sessionmaker[AsyncSession]
) -> None:
    """Events submitted together are committed in far fewer transactions than events."""
    committer: GroupCommitter[VerifiedEvent, Outcome] = GroupCommitter(writer, apply_batch)
    committer.start()
    try:
        outcomes = await asyncio.gather(*[committer.submit(e) for e in subscription_events(hooked, 40)])
    finally:
        await committer.stop()
    assert outcomes == ["applied"] * 40
    assert writer.transactions <= 2
    assert (await row_counts(db))["deliveries"] == 40


async def test_a_copy_in_a_concurrent_batch_is_a_duplicate(
    hooked: Tenant, writer: CountingWriter, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Stripe sends an event again while its first copy's batch is still open: stored once.

    On PostgreSQL the two batches are written at once; the second meets the first's new row on the
    unique index, fails when the first commits, and its copy is applied again alone: a duplicate.
    """
    (event,) = subscription_events(hooked, 1)
    holding = threading.Event()  # set on the writer's thread

    def slow_first_batch(connection: Connection, items: Sequence[VerifiedEvent]) -> list[Outcome]:
        outcomes = apply_batch(connection, items)
        if not holding.is_set():
            holding.set()
            if not settings.is_sqlite:
                connection.execute(text("SELECT pg_sleep(0.5)"))  # the batch stays open, its row unseen
        return outcomes

    committer: GroupCommitter[VerifiedEvent, Outcome] = GroupCommitter(writer, slow_first_batch)
    committer.start()
    try:
        first = asyncio.ensure_future(committer.submit(event))
        assert await asyncio.to_thread(holding.wait, 10)
        second = asyncio.ensure_future(committer.submit(event))
        assert [await first, await second] == ["applied", "duplicate"]
    finally:
        await committer.stop()
    assert await row_counts(db) == {
        "stripe_events": 1,
        "subscriptions": 1,
        "customers": 0,
        "events": 1,
        "deliveries": 1,
    }


async def test_concurrent_batches_with_the_same_new_events_in_other_orders_never_deadlock(
    hooked: Tenant, db: async_sessionmaker[AsyncSession], database: Database
) -> None:
    """Stripe sends events again, in another order, while their first batch is open: no deadlock.

    Batch A (events 1, 3, 2) holds 1 and waits for 3, held by an open transaction; batch B (2, 1) is
    started then. Written in arrival order, B would take 2 and wait for A's 1, and once 3 is free A
    would wait for B's 2: a deadlock, which PostgreSQL breaks only after ``deadlock_timeout``.
    Written in key order, B waits for A's first row and fails on the unique index as soon as A
    commits; group commit then finds B's events duplicates.
    """
    if not database.is_postgres:
        pytest.skip("SQLite writes one transaction at a time")
    one, two, three = (
        verified(hooked, sp.event("charge.succeeded", {"id": f"ch_{n}"}, event_id=f"evt_order_{n}"))
        for n in (1, 2, 3)
    )
    engine = db.kw["bind"]
    async with (
        engine.connect() as holder,
        engine.connect() as a,
        engine.connect() as b,
        engine.connect() as watch,
    ):
        pids = [(await c.execute(text("SELECT pg_backend_pid()"))).scalar_one() for c in (a, b)]
        await a.rollback()
        await b.rollback()

        async def waiting(count: int) -> None:
            query = text(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids) AND wait_event_type = 'Lock'"
            )
            for _ in range(1000):
                found = (await watch.execute(query, {"pids": pids})).scalar_one()
                await watch.rollback()  # a transaction reads one snapshot of the activity
                if found == count:
                    return
                await asyncio.sleep(0.01)
            msg = f"{count} batches never waited together"
            raise AssertionError(msg)

        async def batch(connection: AsyncConnection, items: list[VerifiedEvent]) -> list[Outcome]:
            async with connection.begin():
                return await connection.run_sync(apply_batch, items)

        await holder.begin()
        await holder.run_sync(apply_batch, [three])
        first = asyncio.ensure_future(batch(a, [one, three, two]))
        await waiting(1)
        second = asyncio.ensure_future(batch(b, [two, one]))
        await waiting(2)
        await holder.rollback()
        outcomes, refused = await asyncio.gather(first, second, return_exceptions=True)
    assert outcomes == ["ignored", "ignored", "ignored"]
    assert isinstance(refused, IntegrityError), refused  # the unique index, not a deadlock (40P01)


async def test_a_failing_event_does_not_sink_its_batch_mates(
    hooked: Tenant,
    writer: CountingWriter,
    db: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One event that cannot be written fails alone; the others of its batch are committed."""
    events = subscription_events(hooked, 5)
    bad = events[2].stripe_event_id

    def write_batch(connection: Connection, work: Work) -> None:
        if any(event.stripe_event_id == bad for event in work.new):
            msg = "the disk is on fire"
            raise RuntimeError(msg)
        ingest.write_batch(connection, work)

    monkeypatch.setattr(ingest, "STEPS", _replace(ingest.STEPS, ingest.write_batch, write_batch))
    committer: GroupCommitter[VerifiedEvent, Outcome] = GroupCommitter(writer, apply_batch)
    committer.start()
    try:
        results = await asyncio.gather(*[committer.submit(e) for e in events], return_exceptions=True)
    finally:
        await committer.stop()
    assert [r if isinstance(r, str) else type(r).__name__ for r in results] == [
        "applied",
        "applied",
        "RuntimeError",
        "applied",
        "applied",
    ]
    assert await row_counts(db) == {
        "stripe_events": 4,
        "subscriptions": 4,
        "customers": 0,
        "events": 4,
        "deliveries": 4,
    }


STEP_NAMES = [step.__name__ for step in ingest.STEPS]


@pytest.mark.parametrize("after", STEP_NAMES)
async def test_a_crash_after_any_step_leaves_nothing_and_a_retry_everything(
    hooked: Tenant,
    writer: Writer,
    db: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    after: str,
) -> None:
    """Dying after any step stores nothing at all; Stripe's retry then stores everything, once."""
    events = [
        verified(hooked, sp.event("customer.updated", sp.customer())),
        verified(hooked, sp.event("customer.subscription.created", sp.subscription())),
        verified(hooked, sp.event("invoice.paid", sp.invoice())),
    ]
    step = next(s for s in ingest.STEPS if s.__name__ == after)

    def crash_after(connection: Connection, work: Work) -> None:
        step(connection, work)
        msg = f"killed after {after}"
        raise SystemError(msg)

    with monkeypatch.context() as patch:
        patch.setattr(ingest, "STEPS", _replace(ingest.STEPS, step, crash_after))
        with pytest.raises(SystemError):
            await writer.run(lambda c: apply_batch(c, events))
    assert await row_counts(db) == NOTHING
    assert await writer.run(lambda c: apply_batch(c, events)) == ["applied"] * 3
    assert await row_counts(db) == {
        "stripe_events": 3,
        "subscriptions": 1,
        "customers": 1,
        "events": 3,
        "deliveries": 3,
    }


async def test_a_crash_answers_500_so_stripe_retries(
    client: AsyncTestClient[Litestar],
    hooked: Tenant,
    db: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the write fails, Stripe gets a 5xx (and retries); the retry is applied as if first."""
    created = sp.event("customer.subscription.created", sp.subscription())

    def broken(_connection: Connection, _work: Work) -> None:
        msg = "database went away"
        raise ConnectionError(msg)

    with monkeypatch.context() as patch:
        patch.setattr(ingest, "STEPS", _replace(ingest.STEPS, ingest.write_batch, broken))
        assert_error(await sp.send(client, hooked.workspace_id, created), 500, "internal_error")
    assert (await row_counts(db))["stripe_events"] == 0
    retry = await sp.send(client, hooked.workspace_id, created)
    assert (retry.status_code, retry.json()["outcome"]) == (200, "applied")
    assert (await row_counts(db))["deliveries"] == 1


def _replace(steps: Sequence[Any], old: Any, new: Any) -> tuple[Any, ...]:
    return tuple(new if step is old else step for step in steps)
