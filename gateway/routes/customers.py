"""``/v1/customers/{customer}/subscriptions``: the subscription mirror, flat."""

from typing import Annotated

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.auth import Principal, requires_scope
from gateway.errors import ValidationFailed
from gateway.flat_events import ACTIVE_STATUSES, moments
from gateway.mirror import list_subscriptions
from gateway.models import Subscription
from gateway.schemas import MAX_PAGE_SIZE, Page, page_of
from gateway.timestamps import iso, unix


class MirroredSubscription(msgspec.Struct, kw_only=True):
    """A subscription as the gateway last heard of it, flat like the events (no field is ever null)."""

    subscription_id: str
    customer_id: str
    status: str
    is_active: bool
    price_id: str
    price_lookup_key: str
    product_id: str
    plan_interval: str
    quantity: int
    preset: str
    cancel_at_period_end: bool
    current_period_end: str
    current_period_end_unix: int
    current_period_end_ms: int
    canceled_at: str
    canceled_at_unix: int
    canceled_at_ms: int
    trial_end: str
    trial_end_unix: int
    trial_end_ms: int
    #: The ``subscription_version`` of the newest event about it.
    version: int
    updated_at: str

    @classmethod
    def of(cls, row: Subscription) -> "MirroredSubscription":
        """The flat form of a mirror row."""
        return cls(
            subscription_id=row.subscription_id,
            customer_id=row.customer_id,
            status=row.status,
            is_active=row.status in ACTIVE_STATUSES,
            price_id=row.price_id,
            price_lookup_key=row.price_lookup_key,
            product_id=row.product_id,
            plan_interval=row.plan_interval,
            quantity=row.quantity,
            preset=row.preset,
            cancel_at_period_end=row.cancel_at_period_end,
            **moments("current_period_end", unix(row.current_period_end)),
            **moments("canceled_at", unix(row.canceled_at)),
            **moments("trial_end", unix(row.trial_end)),
            version=row.version,
            updated_at=iso(row.updated_at),
        )


@get(
    "/v1/customers/{customer:str}/subscriptions",
    operation_id="listCustomerSubscriptions",
    tags=["subscriptions"],
    summary="List a customer's subscriptions",
    guards=[requires_scope("portal")],
)
async def list_customer_subscriptions(
    customer: FromPath[str],
    session: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
    cursor: Annotated[str, QueryParameter(description="next_cursor of the previous page")] = "",
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
) -> Page[MirroredSubscription]:
    """The customer's subscriptions as the gateway's mirror holds them (from Stripe's events), oldest first.

    An unknown customer has an empty list: the mirror only knows customers Stripe told it about.
    """
    if cursor and not cursor.isdigit():
        msg = "cursor is the next_cursor of a previous page."
        raise ValidationFailed(msg, field="cursor")
    rows = await list_subscriptions(
        session,
        workspace_id=principal.workspace_id,
        customer_id=customer,
        after=int(cursor or 0),
        limit=limit + 1,
    )
    page = page_of(
        list(zip(rows, map(MirroredSubscription.of, rows), strict=True)), limit, lambda pair: str(pair[0].id)
    )
    return Page(data=[item for _, item in page.data], has_more=page.has_more, next_cursor=page.next_cursor)
