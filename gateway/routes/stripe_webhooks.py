"""``POST /v1/stripe/webhooks/{workspace_id}``: where Stripe sends a workspace's events."""

from typing import Annotated

import msgspec
from litestar import Request, post
from litestar.datastructures import State
from litestar.params import FromPath, HeaderParameter

#: Stripe's largest events (an invoice with many lines) stay well below this.
MAX_STRIPE_EVENT_BYTES = 1024 * 1024


class StripeEventReceipt(msgspec.Struct):
    """What the gateway did with the event (Stripe shows this body in its delivery log)."""

    stripe_event_id: str
    #: ``applied``; ``stale`` (older than the mirror: recorded, not applied); ``ignored`` (a type the
    #: gateway does not act on: recorded); ``duplicate`` (received before: nothing changed).
    outcome: str
    ok: bool = True


@post(
    "/v1/stripe/webhooks/{workspace_id:str}",
    operation_id="receiveStripeEvent",
    tags=["stripe"],
    summary="Receive a Stripe event",
    status_code=200,
    exclude_from_auth=True,
    security=[],
    request_max_body_size=MAX_STRIPE_EVENT_BYTES,
)
async def receive_stripe_event(
    workspace_id: FromPath[str],
    request: Request[None, None, State],
    state: State,
    stripe_signature: Annotated[str, HeaderParameter(name="Stripe-Signature", required=False)] = "",
) -> StripeEventReceipt:
    """Stripe calls this with a signed event: verified, stored once, mirrored and forwarded.

    The answer comes after the event, the mirror and the queued deliveries are committed together.
    A missing, wrong or stale signature (or an unknown workspace) is 400 ``signature_invalid`` and
    nothing is stored; a duplicate is 200 and changes nothing.
    """
    event, outcome = await state.inbox.receive(workspace_id, await request.body(), stripe_signature)
    return StripeEventReceipt(stripe_event_id=event.stripe_event_id, outcome=outcome)
