"""The delivery log: every callback, its attempts and what each receiver answered; manual retries."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import NotFound
from gateway.models import Delivery, DeliveryAttempt, Subscriber, utcnow
from gateway.outbox import mark_queued
from gateway.subscribers import require_enabled

FLAT_EVENT_PREFIX = "evt_gw_"


@dataclass(frozen=True)
class Backlog:
    """A workspace's deliveries not yet settled."""

    #: Pending, due now or later.
    pending: int
    #: Pending and due now.
    due: int
    #: When the longest-waiting due delivery fell due (None: none is waiting).
    oldest_due_at: datetime | None
    #: Failed for good (gave up, or the subscriber was disabled): ``recover`` or retry brings them back.
    failed: int


async def list_deliveries(
    session: AsyncSession,
    *,
    workspace_id: str,
    subscriber_id: str = "",
    event_id: str = "",
    status: str = "",
    before: str = "",
    limit: int = 100,
) -> list[Delivery]:
    """The workspace's deliveries, newest first; ``event_id`` is a flat event's or a Stripe event's.

    One flat event's deliveries and the failed ones are read through indexes, so finding them costs
    the same in a long history. A flat event's are first found by message ID (its index spans every
    workspace: see ``Delivery.message_id``), then read by primary key. The failed ones come from a
    partial index, whose condition only a status written into the SQL meets (PostgreSQL's generic
    plans ignore it for a bound parameter). A Stripe event ID walks the workspace's deliveries newest
    first: Stripe's IDs do not sort by time, and an index of them would cost every delivery a write
    at a random place (twice the insert cost in a 200,000-row trial).
    """
    query = select(Delivery).where(Delivery.workspace_id == workspace_id)
    if subscriber_id:
        query = query.where(Delivery.subscriber_id == subscriber_id)
    if event_id.startswith(FLAT_EVENT_PREFIX):
        sent = (await session.exec(select(Delivery.id).where(Delivery.message_id == event_id))).all()
        query = query.where(col(Delivery.id).in_(sent), Delivery.event_id == event_id)
    elif event_id:
        query = query.where(Delivery.stripe_event_id == event_id)
    if status:
        query = query.where(col(Delivery.status) == bindparam("status", status, literal_execute=True))
    if before:
        query = query.where(col(Delivery.id) < before)
    return list((await session.exec(query.order_by(col(Delivery.id).desc()).limit(limit))).all())


async def get_delivery(session: AsyncSession, *, workspace_id: str, delivery_id: str) -> Delivery:
    """A delivery of the workspace."""
    delivery = await session.get(Delivery, delivery_id)
    if delivery is None or delivery.workspace_id != workspace_id:
        msg = f"No delivery {delivery_id!r}."
        raise NotFound(msg)
    return delivery


async def attempts_of(session: AsyncSession, delivery: Delivery) -> list[DeliveryAttempt]:
    """A delivery's attempts, first first."""
    query = select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery.id)
    return list((await session.exec(query.order_by(col(DeliveryAttempt.attempt)))).all())


async def latest_attempts(
    session: AsyncSession, deliveries: Sequence[Delivery]
) -> dict[str, DeliveryAttempt]:
    """The latest attempt of each delivery that has one, by delivery ID (one query for a page)."""
    ids = [d.id for d in deliveries if d.attempts]
    if not ids:
        return {}
    query = select(DeliveryAttempt).where(col(DeliveryAttempt.delivery_id).in_(ids))
    latest: dict[str, DeliveryAttempt] = {}
    for attempt in (await session.exec(query.order_by(col(DeliveryAttempt.attempt)))).all():
        latest[attempt.delivery_id] = attempt
    return latest


async def backlog(session: AsyncSession, *, workspace_id: str) -> Backlog:
    """How many of the workspace's deliveries wait, how many are due and since when, how many failed."""
    now = utcnow()
    mine = col(Delivery.workspace_id) == workspace_id
    pending = col(Delivery.status) == "pending"
    total = (await session.exec(select(func.count()).where(mine, pending))).one()
    due, oldest = (
        await session.exec(
            select(func.count(), func.min(Delivery.next_attempt_at)).where(
                mine, pending, col(Delivery.next_attempt_at) <= now
            )
        )
    ).one()
    failed = (await session.exec(select(func.count()).where(mine, col(Delivery.status) == "failed"))).one()
    if oldest is not None and oldest.tzinfo is None:  # SQLite hands back naive UTC
        oldest = oldest.replace(tzinfo=UTC)
    return Backlog(pending=total, due=due, oldest_due_at=oldest, failed=failed)


def in_flight(delivery: Delivery) -> bool:
    """Whether a worker holds the delivery right now (its attempt is under way)."""
    return (
        delivery.status == "pending"
        and delivery.lease_expires_at is not None
        and delivery.lease_expires_at > utcnow()
    )


async def retry_delivery(session: AsyncSession, delivery: Delivery) -> Delivery:
    """Attempt the delivery again now, whatever its state (one attempt in flight is left alone).

    A delivery that used up its retry schedule gets this one attempt; one still in its schedule
    keeps the rest of it if this attempt fails.
    """
    subscriber = await session.get(Subscriber, delivery.subscriber_id)
    assert subscriber is not None  # noqa: S101  (deliveries go with their subscriber)
    require_enabled(subscriber)
    if in_flight(delivery):
        return delivery
    now = utcnow()
    delivery.status = "pending"
    delivery.next_attempt_at = now
    delivery.lease_expires_at = None
    delivery.updated_at = now
    session.add(delivery)
    await session.flush()
    mark_queued(session)
    return delivery
