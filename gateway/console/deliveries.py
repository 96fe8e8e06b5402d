"""Deliveries: the filterable log, one delivery with its attempts, retry one, recover since a time."""

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.console.pages import page, see_other
from gateway.console.session import Admin
from gateway.deliveries import attempts_of, get_delivery, latest_attempts, list_deliveries, retry_delivery
from gateway.errors import NotFound, ValidationFailed
from gateway.models import Delivery, utcnow
from gateway.subscribers import get_subscriber, list_subscribers, recover

PAGE_SIZE = 50
STATUSES = ("pending", "succeeded", "failed")
#: After a test or a retry, how long the page waits for the worker's answer before showing "queued".
SETTLE_S = 8.0


async def settle(state: State, before: dict[str, int], within: float = SETTLE_S) -> bool:
    """Wait until each delivery has an attempt past its count in ``before`` (the worker answered).

    Only when this process delivers (``GATEWAY_WORKER=embedded``); with the worker elsewhere the page
    says the deliveries are queued at once rather than guess how long it will take.
    """
    if state.get("worker") is None or not before:
        return False
    sessions: async_sessionmaker[AsyncSession] = state.session_factory
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with sessions() as session:
            rows = (await session.exec(select(Delivery).where(col(Delivery.id).in_(list(before))))).all()
            latest = await latest_attempts(session, rows)
        if all(d.id in latest and latest[d.id].attempt > before[d.id] for d in rows):
            return True
        await asyncio.sleep(0.05)
    return False


def parse_moment(text: str, field: str, *, required: bool = False) -> datetime | None:
    """A ``datetime-local`` value (the console's times are UTC), or None when empty."""
    if not text.strip():
        if required:
            msg = f"Say {field} when (a date and time, UTC)."
            raise ValidationFailed(msg, field=field)
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        msg = f"{text!r} is not a date and time (YYYY-MM-DDTHH:MM, UTC)."
        raise ValidationFailed(msg, field=field) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


async def log_rows(
    session: AsyncSession, workspace_id: str, deliveries: Sequence[Delivery]
) -> list[dict[str, Any]]:
    """What a delivery table shows: each delivery, its subscriber and its latest attempt (the answer)."""
    latest = await latest_attempts(session, deliveries)
    subscribers = {s.id: s for s in await list_subscribers(session, workspace_id=workspace_id)}
    return [
        {"delivery": d, "attempt": latest.get(d.id), "subscriber": subscribers.get(d.subscriber_id)}
        for d in deliveries
    ]


async def log_page(
    request: Request[Any, Any, State],
    admin: Admin,
    session: AsyncSession,
    *,
    filters: dict[str, str],
    cursor: str = "",
    error: str = "",
    recover_form: dict[str, str] | None = None,
) -> Template:
    """The delivery log page: a page of deliveries as filtered, the filters and the recover form."""
    workspace_id = admin.workspace.id
    rows = await list_deliveries(
        session,
        workspace_id=workspace_id,
        subscriber_id=filters["subscriber"].strip(),
        event_id=filters["event"].strip(),
        status=filters["status"] if filters["status"] in STATUSES else "",
        before=cursor,
        limit=PAGE_SIZE + 1,
    )
    return page(
        "deliveries.html",
        request,
        admin,
        status_code=400 if error else 200,
        rows=await log_rows(session, workspace_id, rows[:PAGE_SIZE]),
        next_cursor=rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else "",
        filters=filters,
        statuses=STATUSES,
        subscribers=await list_subscribers(session, workspace_id=workspace_id),
        error=error,
        recover_form=recover_form or {"subscriber": filters["subscriber"], "since": "", "until": ""},
    )


@get("/deliveries", name="console-deliveries")
async def deliveries_page(
    *,
    request: Request[Any, Any, State],
    admin: NamedDependency[Admin],
    session: NamedDependency[AsyncSession],
    status: Annotated[str, QueryParameter()] = "",
    subscriber: Annotated[str, QueryParameter()] = "",
    event: Annotated[str, QueryParameter()] = "",
    cursor: Annotated[str, QueryParameter()] = "",
) -> Template:
    """The delivery log, newest first, filtered by status, subscriber and event."""
    filters = {"status": status, "subscriber": subscriber, "event": event}
    return await log_page(request, admin, session, filters=filters, cursor=cursor)


@get("/deliveries/{delivery_id:str}", name="console-delivery")
async def delivery_page(
    request: Request[Any, Any, State],
    admin: NamedDependency[Admin],
    session: NamedDependency[AsyncSession],
    delivery_id: FromPath[str],
) -> Template:
    """One delivery: the body sent and every attempt with what the receiver answered."""
    delivery = await get_delivery(session, workspace_id=admin.workspace.id, delivery_id=delivery_id)
    return page(
        "delivery.html",
        request,
        admin,
        delivery=delivery,
        attempts=await attempts_of(session, delivery),
        subscriber=await get_subscriber(
            session, workspace_id=admin.workspace.id, subscriber_id=delivery.subscriber_id
        ),
    )


@post("/deliveries/{delivery_id:str}/retry", status_code=303)
async def retry(
    request: Request[Any, Any, State],
    admin: NamedDependency[Admin],
    session: NamedDependency[AsyncSession],
    delivery_id: FromPath[str],
) -> Response[Any]:
    """Attempt the delivery again now, then show its page once the worker answered."""
    delivery = await get_delivery(session, workspace_id=admin.workspace.id, delivery_id=delivery_id)
    before = {delivery.id: delivery.attempts}
    await retry_delivery(session, delivery)
    await session.commit()
    answered = await settle(request.app.state, before)
    return see_other(f"/console/deliveries/{delivery_id}", notice="retried" if answered else "retry-queued")


@post("/deliveries/recover", status_code=303)
async def recover_deliveries(
    request: Request[Any, Any, State], admin: NamedDependency[Admin], session: NamedDependency[AsyncSession]
) -> Response[Any]:
    """Queue again a subscriber's failed deliveries created since a time (and before another)."""
    form = await request.form()
    subscriber_id = str(form.get("subscriber", ""))
    try:
        subscriber = await get_subscriber(
            session, workspace_id=admin.workspace.id, subscriber_id=subscriber_id
        )
        since = parse_moment(str(form.get("since", "")), "since", required=True)
        until = parse_moment(str(form.get("until", "")), "until")
        count = await recover(session, subscriber, since=since or utcnow(), until=until)
    except (ValidationFailed, NotFound) as exc:
        filters = {"status": "", "subscriber": "", "event": ""}
        entered = {k: str(form.get(k, "")) for k in ("subscriber", "since", "until")}
        return await log_page(
            request, admin, session, filters=filters, error=exc.message, recover_form=entered
        )
    return see_other(
        "/console/deliveries", notice="recovered", n=count, subscriber=subscriber.id, status="pending"
    )


HANDLERS = [deliveries_page, delivery_page, retry, recover_deliveries]
