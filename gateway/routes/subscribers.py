"""``/v1/subscribers``: callback subscribers (admin)."""

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.auth import Principal, requires_scope
from gateway.models import Subscriber
from gateway.openapi import json_body
from gateway.routes.deliveries import DeliveryView
from gateway.sample_deliveries import send_samples
from gateway.schemas import MAX_PAGE_SIZE, Page, page_of
from gateway.subscribers import (
    REDACTED,
    create_subscriber,
    delete_subscriber,
    get_subscriber,
    header_names,
    list_subscribers,
    recover,
    rotate_secret,
    update_subscriber,
    warnings_for,
)
from gateway.timestamps import iso
from gateway.vault import Vault

Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
Description = Annotated[str, msgspec.Meta(max_length=500)]
MaxInFlight = Annotated[int, msgspec.Meta(ge=1, le=100)]
Format = Literal["flat", "stripe"]


class SubscriberCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A callback: where, which events, in which format, with which static headers."""

    url: Url
    event_types: list[str] = msgspec.field(default_factory=lambda: ["*"])
    format: Format = "flat"
    #: Sent with every callback (e.g. ``Authorization: Bearer <Bubble admin token>``); never shown again.
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    description: Description = ""
    enabled: bool = True
    #: Callbacks in flight at once to this URL.
    max_in_flight: MaxInFlight = 4


class SubscriberUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The fields to change; ``headers`` replaces all of them (``{}`` removes them)."""

    url: Url | msgspec.UnsetType = msgspec.UNSET
    event_types: list[str] | msgspec.UnsetType = msgspec.UNSET
    format: Format | msgspec.UnsetType = msgspec.UNSET
    headers: dict[str, str] | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    max_in_flight: MaxInFlight | msgspec.UnsetType = msgspec.UNSET


class Recovery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which failed deliveries to queue again: created at or after ``since`` (and before ``until``)."""

    since: Annotated[datetime, msgspec.Meta(tz=True)]
    until: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


class SubscriberWarning(msgspec.Struct):
    """Allowed, but probably a mistake."""

    code: str
    message: str


class SubscriberView(msgspec.Struct):
    """A subscriber as shown: header values redacted, secrets never."""

    id: str
    url: str
    event_types: list[str]
    format: str
    headers: dict[str, str]
    description: str
    enabled: bool
    #: ``manual``, ``gone`` (answered 410) or ``failing`` (5 days without a success); "" when enabled.
    disabled_reason: str
    max_in_flight: int
    #: First failure since the last success ("" when the last callback succeeded).
    failing_since: str
    #: Until when the secret replaced by the last rotation still signs ("" when none does).
    previous_secret_expires_at: str
    created_at: str
    updated_at: str
    warnings: list[SubscriberWarning]
    ok: bool = True

    @classmethod
    def of(cls, subscriber: Subscriber, vault: Vault, *, livemode: bool) -> "SubscriberView":
        """The shown form of a stored subscriber."""
        return cls(
            id=subscriber.id,
            url=subscriber.url,
            event_types=subscriber.event_types,
            format=subscriber.format,
            headers=dict.fromkeys(header_names(vault, subscriber), REDACTED),
            description=subscriber.description,
            enabled=subscriber.enabled,
            disabled_reason=subscriber.disabled_reason,
            max_in_flight=subscriber.max_in_flight,
            failing_since=iso(subscriber.failing_since),
            previous_secret_expires_at=iso(subscriber.previous_secret_expires_at),
            created_at=iso(subscriber.created_at),
            updated_at=iso(subscriber.updated_at),
            warnings=[
                SubscriberWarning(w.code, w.message) for w in warnings_for(subscriber, livemode=livemode)
            ],
        )


class SubscriberWithSecret(SubscriberView):
    """A subscriber and its signing secret (``whsec_...``), shown in this answer only."""

    secret: str = ""


class Recovered(msgspec.Struct):
    """How many failed deliveries were queued again."""

    requeued: int
    ok: bool = True


def _shown(subscriber: Subscriber, vault: Vault, principal: Principal, secret: str = "") -> Any:
    view = SubscriberView.of(subscriber, vault, livemode=principal.livemode)
    if not secret:
        return view
    return SubscriberWithSecret(**msgspec.structs.asdict(view), secret=secret)


async def _subscriber(
    subscriber_id: FromPath[str],
    session: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
) -> Subscriber:
    """The subscriber the path names, of the caller's workspace (404 otherwise)."""
    return await get_subscriber(session, workspace_id=principal.workspace_id, subscriber_id=subscriber_id)


class SubscriberController(Controller):
    """Callback subscribers of the workspace."""

    path = "/v1/subscribers"
    tags = ["subscribers"]  # noqa: RUF012
    guards = [requires_scope("admin")]  # noqa: RUF012
    dependencies = {"subscriber": Provide(_subscriber)}  # noqa: RUF012

    @get(operation_id="listSubscribers", summary="List subscribers")
    async def list_subscribers(
        self,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        vault: NamedDependency[Vault],
        cursor: Annotated[str, QueryParameter(description="next_cursor of the previous page")] = "",
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
    ) -> Page[SubscriberView]:
        """Every subscriber of the workspace, oldest first."""
        rows = await list_subscribers(
            session, workspace_id=principal.workspace_id, after=cursor, limit=limit + 1
        )
        views = [SubscriberView.of(row, vault, livemode=principal.livemode) for row in rows]
        return page_of(views, limit, lambda view: view.id)

    @post(operation_id="createSubscriber", summary="Create a subscriber")
    async def create_subscriber(
        self,
        data: Annotated[SubscriberCreate, json_body("createSubscriber")],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        vault: NamedDependency[Vault],
        state: State,
    ) -> SubscriberWithSecret:
        """A new subscriber; its signing ``secret`` is shown in this answer only."""
        subscriber, secret = await create_subscriber(
            session,
            vault,
            state.callback_guard,
            workspace_id=principal.workspace_id,
            **msgspec.structs.asdict(data),
        )
        shown: SubscriberWithSecret = _shown(subscriber, vault, principal, secret)
        return shown

    @get("/{subscriber_id:str}", operation_id="getSubscriber", summary="Get a subscriber")
    async def get_subscriber(
        self,
        subscriber: NamedDependency[Subscriber],
        principal: NamedDependency[Principal],
        vault: NamedDependency[Vault],
    ) -> SubscriberView:
        """One subscriber (header values redacted)."""
        return SubscriberView.of(subscriber, vault, livemode=principal.livemode)

    @patch("/{subscriber_id:str}", operation_id="updateSubscriber", summary="Change a subscriber")
    async def update_subscriber(
        self,
        *,
        subscriber: NamedDependency[Subscriber],
        data: Annotated[SubscriberUpdate, json_body("updateSubscriber")],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        vault: NamedDependency[Vault],
        state: State,
    ) -> SubscriberView:
        """Change the fields given; disabling fails its pending deliveries (``recover`` brings them back)."""
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        await update_subscriber(session, vault, state.callback_guard, subscriber, changes)
        return SubscriberView.of(subscriber, vault, livemode=principal.livemode)

    @delete(
        "/{subscriber_id:str}",
        operation_id="deleteSubscriber",
        summary="Delete a subscriber",
        status_code=200,
    )
    async def delete_subscriber(
        self,
        subscriber: NamedDependency[Subscriber],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        vault: NamedDependency[Vault],
    ) -> SubscriberView:
        """Delete a subscriber, its deliveries and their log."""
        view = SubscriberView.of(subscriber, vault, livemode=principal.livemode)
        await delete_subscriber(session, subscriber)
        return view

    @post(
        "/{subscriber_id:str}/rotate-secret",
        operation_id="rotateSubscriberSecret",
        summary="Rotate a subscriber's signing secret",
        status_code=200,
    )
    async def rotate_secret(
        self,
        subscriber: NamedDependency[Subscriber],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        vault: NamedDependency[Vault],
    ) -> SubscriberWithSecret:
        """A new ``secret`` (shown in this answer only); the previous one keeps signing for 24 hours."""
        secret = await rotate_secret(session, vault, subscriber)
        shown: SubscriberWithSecret = _shown(subscriber, vault, principal, secret)
        return shown

    @post(
        "/{subscriber_id:str}/test",
        operation_id="testSubscriber",
        summary="Send a sample of each subscribed event type",
        status_code=200,
    )
    async def send_test(
        self,
        subscriber: NamedDependency[Subscriber],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> Page[DeliveryView]:
        """One sample per subscribed type (``is_test: true``), queued now; follow them in the delivery log."""
        deliveries = await send_samples(session, subscriber, livemode=principal.livemode)
        return Page(data=[DeliveryView.of(d) for d in deliveries])

    @post(
        "/{subscriber_id:str}/recover",
        operation_id="recoverSubscriberDeliveries",
        summary="Queue failed deliveries again",
        status_code=200,
    )
    async def recover(
        self,
        subscriber: NamedDependency[Subscriber],
        data: Annotated[Recovery, json_body("recoverSubscriberDeliveries")],
        session: NamedDependency[AsyncSession],
    ) -> Recovered:
        """Queue again every failed delivery created since ``since``: they are attempted at once."""
        return Recovered(requeued=await recover(session, subscriber, since=data.since, until=data.until))
