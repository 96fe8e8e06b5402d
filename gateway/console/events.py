"""Events: the flat events the gateway produced, each with the Stripe event it came from."""

import json
from typing import Annotated, Any

from litestar import Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.console.deliveries import log_rows
from gateway.console.pages import page
from gateway.console.session import Admin
from gateway.deliveries import list_deliveries
from gateway.event_log import get_event, list_events, source_events
from gateway.flat_events import EVENT_TYPES

PAGE_SIZE = 50


@get("/events", name="console-events")
async def events_page(
    *,
    request: Request[Any, Any, State],
    admin: NamedDependency[Admin],
    session: NamedDependency[AsyncSession],
    event_type: Annotated[str, QueryParameter()] = "",
    customer: Annotated[str, QueryParameter()] = "",
    subscription: Annotated[str, QueryParameter()] = "",
    stripe_event: Annotated[str, QueryParameter()] = "",
    cursor: Annotated[str, QueryParameter()] = "",
) -> Template:
    """The flat events, newest first, filtered by type, customer, subscription or Stripe event."""
    filters = {
        "event_type": event_type,
        "customer": customer.strip(),
        "subscription": subscription.strip(),
        "stripe_event": stripe_event.strip(),
    }
    rows = await list_events(
        session,
        workspace_id=admin.workspace.id,
        before=cursor,
        limit=PAGE_SIZE + 1,
        event_type=event_type,
        customer_id=filters["customer"],
        subscription_id=filters["subscription"],
        stripe_event_id=filters["stripe_event"],
    )
    shown = rows[:PAGE_SIZE]
    # Read as JSON, not as FlatEvent: an event stored before a key was added still shows.
    sources = await source_events(
        session, workspace_id=admin.workspace.id, stripe_event_ids=(r.stripe_event_id for r in shown)
    )
    return page(
        "events.html",
        request,
        admin,
        events=[
            {"row": r, "flat": json.loads(r.body), "source": sources.get(r.stripe_event_id)} for r in shown
        ],
        next_cursor=shown[-1].id if len(rows) > PAGE_SIZE else "",
        filters=filters,
        types=EVENT_TYPES,
    )


@get("/events/{event_id:str}", name="console-event")
async def event_page(
    request: Request[Any, Any, State],
    admin: NamedDependency[Admin],
    session: NamedDependency[AsyncSession],
    event_id: FromPath[str],
) -> Template:
    """One flat event as subscribers received it, its Stripe source event and its deliveries."""
    event = await get_event(session, workspace_id=admin.workspace.id, event_id=event_id)
    sources = await source_events(
        session, workspace_id=admin.workspace.id, stripe_event_ids=[event.stripe_event_id]
    )
    deliveries = await list_deliveries(session, workspace_id=admin.workspace.id, event_id=event.id)
    return page(
        "event.html",
        request,
        admin,
        event=event,
        flat=json.loads(event.body),
        source=sources.get(event.stripe_event_id),
        deliveries=await log_rows(session, admin.workspace.id, deliveries),
    )


HANDLERS = [events_page, event_page]
