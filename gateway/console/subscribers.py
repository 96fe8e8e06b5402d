"""Subscribers: list, create (the secret shown once), edit, disable and enable, rotate, send a test."""

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.response import Template
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.console.deliveries import log_rows, settle
from gateway.console.forms import (
    blank_values,
    event_type_choices,
    field_of,
    form_values,
    request_of,
    values_of,
)
from gateway.console.pages import page, see_other
from gateway.console.session import Admin
from gateway.deliveries import list_deliveries
from gateway.errors import ValidationFailed
from gateway.models import Subscriber
from gateway.routes.subscribers import SubscriberCreate, SubscriberUpdate
from gateway.sample_deliveries import send_samples
from gateway.subscribers import (
    create_subscriber,
    get_subscriber,
    header_names,
    list_subscribers,
    rotate_secret,
    update_subscriber,
    warnings_for,
)
from gateway.vault import Vault

RECENT = 10


async def provide_subscriber(
    admin: NamedDependency[Admin], session: NamedDependency[AsyncSession], subscriber_id: FromPath[str]
) -> Subscriber:
    """The workspace's subscriber the path names (another's, or none: a 404 page)."""
    return await get_subscriber(session, workspace_id=admin.workspace.id, subscriber_id=subscriber_id)


#: For the pages of one subscriber (``/subscribers/{subscriber_id}...``).
ONE = {"subscriber": Provide(provide_subscriber)}


def _form(
    request: Request[Any, Any, Any],
    admin: Admin,
    values: dict[str, Any],
    *,
    error: ValidationFailed | None = None,
) -> Template:
    return page(
        "subscriber_new.html",
        request,
        admin,
        status_code=400 if error else 200,
        values=values,
        choices=event_type_choices(),
        error=error.message if error else "",
        error_field=field_of(error) if error else "",
    )


async def _detail(
    request: Request[Any, Any, Any],
    admin: Admin,
    session: AsyncSession,
    vault: Vault,
    subscriber: Subscriber,
    *,
    values: dict[str, Any] | None = None,
    error: ValidationFailed | None = None,
) -> Template:
    recent = await list_deliveries(
        session, workspace_id=admin.workspace.id, subscriber_id=subscriber.id, limit=RECENT
    )
    return page(
        "subscriber.html",
        request,
        admin,
        status_code=400 if error else 200,
        subscriber=subscriber,
        header_names=header_names(vault, subscriber),
        warnings=warnings_for(subscriber, livemode=admin.workspace.livemode),
        values=values or values_of(subscriber),
        choices=event_type_choices(),
        recent=await log_rows(session, admin.workspace.id, recent),
        error=error.message if error else "",
        error_field=field_of(error) if error else "",
    )


def _secret(
    request: Request[Any, Any, Any], admin: Admin, subscriber: Subscriber, secret: str, *, new: bool
) -> Template:
    return page("secret.html", request, admin, subscriber=subscriber, secret=secret, new=new)


@get("/subscribers", name="console-subscribers")
async def subscribers_page(
    request: Request[Any, Any, State], admin: NamedDependency[Admin], session: NamedDependency[AsyncSession]
) -> Template:
    """Every subscriber of the workspace."""
    rows = await list_subscribers(session, workspace_id=admin.workspace.id)
    return page("subscribers.html", request, admin, subscribers=rows)


@get("/subscribers/new", name="console-subscriber-new")
async def new_subscriber_page(request: Request[Any, Any, State], admin: NamedDependency[Admin]) -> Template:
    """The form for a new subscriber."""
    return _form(request, admin, blank_values())


@post("/subscribers/new", status_code=200)
async def create(
    request: Request[Any, Any, State],
    admin: NamedDependency[Admin],
    session: NamedDependency[AsyncSession],
    vault: NamedDependency[Vault],
) -> Template:
    """Create the subscriber and show its signing secret, this once."""
    values = form_values(await request.form())
    try:
        data = request_of(values, SubscriberCreate, editing=False)
        subscriber, secret = await create_subscriber(
            session,
            vault,
            request.app.state.callback_guard,
            workspace_id=admin.workspace.id,
            **msgspec.structs.asdict(data),
        )
    except ValidationFailed as exc:
        return _form(request, admin, values, error=exc)
    return _secret(request, admin, subscriber, secret, new=True)


@get("/subscribers/{subscriber_id:str}", dependencies=ONE, name="console-subscriber")
async def subscriber_page(
    request: Request[Any, Any, State],
    admin: NamedDependency[Admin],
    session: NamedDependency[AsyncSession],
    vault: NamedDependency[Vault],
    subscriber: NamedDependency[Subscriber],
) -> Template:
    """One subscriber: its settings, its actions and its latest deliveries."""
    return await _detail(request, admin, session, vault, subscriber)


@post("/subscribers/{subscriber_id:str}", dependencies=ONE, status_code=303)
async def edit(
    request: Request[Any, Any, State],
    admin: NamedDependency[Admin],
    session: NamedDependency[AsyncSession],
    vault: NamedDependency[Vault],
    subscriber: NamedDependency[Subscriber],
) -> Response[Any]:
    """Save the edit form (blank headers keep the stored ones)."""
    values = form_values(await request.form())
    try:
        data = request_of(values, SubscriberUpdate, editing=True)
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        await update_subscriber(session, vault, request.app.state.callback_guard, subscriber, changes)
    except ValidationFailed as exc:
        await session.rollback()  # nothing half-changed is kept; what the page shows is read again
        for stored in (admin.workspace, subscriber):
            await session.refresh(stored)
        return await _detail(request, admin, session, vault, subscriber, values=values, error=exc)
    return see_other(f"/console/subscribers/{subscriber.id}", notice="saved")


@post("/subscribers/{subscriber_id:str}/enabled", dependencies=ONE, status_code=303)
async def set_enabled(
    request: Request[Any, Any, State],
    session: NamedDependency[AsyncSession],
    vault: NamedDependency[Vault],
    subscriber: NamedDependency[Subscriber],
) -> Response[Any]:
    """Enable or disable (disabling fails its pending deliveries; recover brings them back)."""
    enabled = (await request.form()).get("enabled") == "true"
    await update_subscriber(
        session, vault, request.app.state.callback_guard, subscriber, {"enabled": enabled}
    )
    return see_other(f"/console/subscribers/{subscriber.id}", notice="enabled" if enabled else "disabled")


@post("/subscribers/{subscriber_id:str}/rotate-secret", dependencies=ONE, status_code=200)
async def rotate(
    request: Request[Any, Any, State],
    admin: NamedDependency[Admin],
    session: NamedDependency[AsyncSession],
    vault: NamedDependency[Vault],
    subscriber: NamedDependency[Subscriber],
) -> Template:
    """A new signing secret, shown this once; the previous one keeps signing for 24 hours."""
    secret = await rotate_secret(session, vault, subscriber)
    return _secret(request, admin, subscriber, secret, new=False)


@post("/subscribers/{subscriber_id:str}/test", dependencies=ONE, status_code=303)
async def send_test(
    request: Request[Any, Any, State],
    admin: NamedDependency[Admin],
    session: NamedDependency[AsyncSession],
    vault: NamedDependency[Vault],
    subscriber: NamedDependency[Subscriber],
) -> Response[Any]:
    """Send a sample of each subscribed type now; the subscriber's page then shows how each went."""
    try:
        deliveries = await send_samples(session, subscriber, livemode=admin.workspace.livemode)
    except ValidationFailed as exc:
        return await _detail(request, admin, session, vault, subscriber, error=exc)
    await session.commit()
    answered = await settle(request.app.state, {d.id: 0 for d in deliveries})
    target = f"/console/subscribers/{subscriber.id}"
    return see_other(target, notice="tested" if answered else "test-queued")


HANDLERS = [
    subscribers_page,
    new_subscriber_page,
    create,
    subscriber_page,
    edit,
    set_enabled,
    rotate,
    send_test,
]
