"""The flat events the gateway produced, for receivers that confirm an event and for the console."""

from collections.abc import Iterable

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import NotFound
from gateway.models import Event, StripeEvent


async def list_events(
    session: AsyncSession,
    *,
    workspace_id: str,
    before: str = "",
    limit: int = 100,
    event_type: str = "",
    customer_id: str = "",
    subscription_id: str = "",
    stripe_event_id: str = "",
) -> list[Event]:
    """The workspace's flat events, newest first, older than the event ``before``, optionally filtered."""
    query = select(Event).where(Event.workspace_id == workspace_id)
    if before:
        query = query.where(col(Event.id) < before)
    for column, value in (
        (Event.event_type, event_type),
        (Event.customer_id, customer_id),
        (Event.subscription_id, subscription_id),
        (Event.stripe_event_id, stripe_event_id),
    ):
        if value:
            query = query.where(column == value)
    return list((await session.exec(query.order_by(col(Event.id).desc()).limit(limit))).all())


async def get_event(session: AsyncSession, *, workspace_id: str, event_id: str) -> Event:
    """One flat event of the workspace; ``NotFound`` when it is not (or not this workspace's)."""
    event = await session.get(Event, event_id)
    if event is None or event.workspace_id != workspace_id:
        msg = f"No event {event_id!r} in this workspace."
        raise NotFound(msg)
    return event


async def source_events(
    session: AsyncSession, *, workspace_id: str, stripe_event_ids: Iterable[str]
) -> dict[str, StripeEvent]:
    """The Stripe events (as received) that flat events were made from, by Stripe event ID."""
    ids = sorted({i for i in stripe_event_ids if i})
    if not ids:
        return {}
    query = select(StripeEvent).where(
        StripeEvent.workspace_id == workspace_id, col(StripeEvent.stripe_event_id).in_(ids)
    )
    return {row.stripe_event_id: row for row in (await session.exec(query)).all()}


async def last_stripe_event(session: AsyncSession, *, workspace_id: str) -> StripeEvent | None:
    """The Stripe event the workspace received last, if any."""
    query = select(StripeEvent).where(StripeEvent.workspace_id == workspace_id)
    return (await session.exec(query.order_by(col(StripeEvent.id).desc()).limit(1))).first()
