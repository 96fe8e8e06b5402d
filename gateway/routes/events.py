"""Flat events: samples of each type for schema detection, and the events the gateway produced."""

from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, PathParameter, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.auth import Principal, requires_scope
from gateway.event_log import get_event, list_events
from gateway.flat_events import EVENT_TYPES, FlatEvent, decode
from gateway.sample_events import sample_event
from gateway.schemas import MAX_PAGE_SIZE, Page, page_of


class EventDetail(FlatEvent, kw_only=True):
    """A flat event exactly as subscribers received it, with ``ok``."""

    ok: bool = True


@get(
    "/v1/sample-events/{event_type:str}",
    operation_id="getSampleEvent",
    tags=["events"],
    summary="A sample flat event",
    exclude_from_auth=True,
    security=[],
)
async def get_sample_event(
    event_type: Annotated[str, PathParameter(description=f"One of: {', '.join(EVENT_TYPES)}")],
) -> FlatEvent:
    """Exactly what a subscriber receives for this type, every field filled, marked ``is_test``.

    Paste it into Bubble's "Detect data", Make's data structure or n8n's test listener so the receiver
    knows every field before the first real event. The body is the payload itself (no ``ok`` key).
    """
    return sample_event(event_type)


class EventController(Controller):
    """The flat events the gateway produced from Stripe's."""

    path = "/v1/events"
    tags = ["events"]  # noqa: RUF012

    @get(operation_id="listEvents", summary="List flat events", guards=[requires_scope("admin")])
    async def list_events(
        self,
        *,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        cursor: Annotated[str, QueryParameter(description="next_cursor of the previous page")] = "",
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
        event_type: Annotated[str, QueryParameter(description="Only events of this flat type")] = "",
        customer_id: Annotated[str, QueryParameter(description="Only this customer's events")] = "",
        subscription_id: Annotated[str, QueryParameter(description="Only this subscription's events")] = "",
    ) -> Page[FlatEvent]:
        """The workspace's flat events, newest first, exactly as subscribers received them."""
        rows = await list_events(
            session,
            workspace_id=principal.workspace_id,
            before=cursor,
            limit=limit + 1,
            event_type=event_type,
            customer_id=customer_id,
            subscription_id=subscription_id,
        )
        return page_of([decode(row.body) for row in rows], limit, lambda event: event.event_id)

    @get(
        "/{event_id:str}",
        operation_id="getEvent",
        summary="Get a flat event",
        guards=[requires_scope("portal")],
    )
    async def get_event(
        self,
        event_id: FromPath[str],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> EventDetail:
        """One flat event, so a receiver that cannot verify signatures can confirm it came from here."""
        event = await get_event(session, workspace_id=principal.workspace_id, event_id=event_id)
        return msgspec.json.decode(event.body, type=EventDetail)
