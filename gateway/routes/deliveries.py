"""``/v1/deliveries``: the delivery log, with attempts, and manual retries (admin)."""

from typing import Annotated, Literal

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.auth import Principal, requires_scope
from gateway.deliveries import attempts_of, get_delivery, list_deliveries, retry_delivery
from gateway.models import Delivery, DeliveryAttempt
from gateway.schemas import MAX_PAGE_SIZE, Page, page_of
from gateway.timestamps import iso


class DeliveryView(msgspec.Struct):
    """One callback to one subscriber: its state and its latest attempt's result."""

    id: str
    subscriber_id: str
    #: The flat event sent ("" when the subscriber takes Stripe's own events).
    event_id: str
    stripe_event_id: str
    event_type: str
    #: ``webhook-id``: the same on every attempt.
    message_id: str
    #: ``pending``, ``succeeded`` or ``failed``.
    status: str
    attempt_count: int
    #: When the next attempt goes ("" once succeeded or failed).
    next_attempt_at: str
    last_status_code: int
    last_error: str
    created_at: str
    updated_at: str
    succeeded_at: str
    ok: bool = True

    @classmethod
    def of(cls, delivery: Delivery) -> "DeliveryView":
        """The shown form of a stored delivery."""
        return cls(
            id=delivery.id,
            subscriber_id=delivery.subscriber_id,
            event_id=delivery.event_id,
            stripe_event_id=delivery.stripe_event_id,
            event_type=delivery.event_type,
            message_id=delivery.message_id,
            status=delivery.status,
            attempt_count=delivery.attempts,
            next_attempt_at=iso(delivery.next_attempt_at) if delivery.status == "pending" else "",
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            created_at=iso(delivery.created_at),
            updated_at=iso(delivery.updated_at),
            succeeded_at=iso(delivery.succeeded_at),
        )


class AttemptView(msgspec.Struct):
    """One HTTP attempt and what the receiver answered."""

    attempt: int
    started_at: str
    duration_ms: int
    #: 0 when no answer came (see ``error``).
    status_code: int
    #: The first 2 KB of the answer.
    response_body: str
    error: str
    #: When the next attempt was scheduled after this one ("" when none was).
    next_attempt_at: str

    @classmethod
    def of(cls, attempt: DeliveryAttempt) -> "AttemptView":
        """The shown form of a stored attempt."""
        return cls(
            attempt=attempt.attempt,
            started_at=iso(attempt.started_at),
            duration_ms=attempt.duration_ms,
            status_code=attempt.status_code,
            response_body=attempt.response_body,
            error=attempt.error,
            next_attempt_at=iso(attempt.next_attempt_at),
        )


class DeliveryDetail(DeliveryView):
    """A delivery with the exact body sent and every attempt."""

    body: str = ""
    attempts: list[AttemptView] = msgspec.field(default_factory=list)


class DeliveryController(Controller):
    """The delivery log."""

    path = "/v1/deliveries"
    tags = ["deliveries"]  # noqa: RUF012
    guards = [requires_scope("admin")]  # noqa: RUF012

    @get(operation_id="listDeliveries", summary="List deliveries")
    async def list_deliveries(
        self,
        *,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        subscriber: Annotated[str, QueryParameter(description="Only this subscriber's (sbr_...)")] = "",
        event: Annotated[
            str, QueryParameter(description="Only this flat (evt_gw_...) or Stripe event's")
        ] = "",
        status: Annotated[Literal["", "pending", "succeeded", "failed"], QueryParameter()] = "",
        cursor: Annotated[str, QueryParameter(description="next_cursor of the previous page")] = "",
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
    ) -> Page[DeliveryView]:
        """The workspace's deliveries, newest first."""
        rows = await list_deliveries(
            session,
            workspace_id=principal.workspace_id,
            subscriber_id=subscriber,
            event_id=event,
            status=status,
            before=cursor,
            limit=limit + 1,
        )
        return page_of([DeliveryView.of(row) for row in rows], limit, lambda view: view.id)

    @get("/{delivery_id:str}", operation_id="getDelivery", summary="Get a delivery with its attempts")
    async def get_delivery(
        self,
        delivery_id: FromPath[str],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> DeliveryDetail:
        """One delivery, the body sent and every attempt (status, duration, answer, error)."""
        delivery = await get_delivery(session, workspace_id=principal.workspace_id, delivery_id=delivery_id)
        attempts = await attempts_of(session, delivery)
        return DeliveryDetail(
            **msgspec.structs.asdict(DeliveryView.of(delivery)),
            body=delivery.body,
            attempts=[AttemptView.of(a) for a in attempts],
        )

    @post(
        "/{delivery_id:str}/retry",
        operation_id="retryDelivery",
        summary="Retry a delivery now",
        status_code=200,
    )
    async def retry_delivery(
        self,
        delivery_id: FromPath[str],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> DeliveryView:
        """Attempt the delivery again now (succeeded and failed ones too), with the same ``webhook-id``."""
        delivery = await get_delivery(session, workspace_id=principal.workspace_id, delivery_id=delivery_id)
        return DeliveryView.of(await retry_delivery(session, delivery))
