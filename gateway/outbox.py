"""The durable outbox: delivery rows written in the same transaction as the events they carry."""

from collections.abc import Sequence

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.ids import new_id
from gateway.models import Delivery, Event, StripeEvent, Subscriber


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
