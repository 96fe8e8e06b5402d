"""Stripe's webhook events as they arrive: signature checked with the SDK, parsed once, re-fetched.

Verification runs on the raw body (any re-serialisation breaks the HMAC), with every signing secret
of the workspace (two while one is being rotated) and Stripe's 300-second tolerance.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import msgspec
import stripe
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import (
    SignatureInvalid,
    StripeFailure,
    StripeRateLimited,
    StripeUnavailable,
    ValidationFailed,
)
from gateway.mirror import MirrorState
from gateway.models import Workspace, utcnow
from gateway.stripe_client import StripeClients, stripe_errors

logger = logging.getLogger(__name__)

#: Stripe's own default: a signature older than this is refused (replays).
TOLERANCE_S = 300
#: Signature failures are written at most this often per process, so a flood of forged requests costs
#: one database write a second, not one each.
FAILURES_FLUSH_S = 1.0


@dataclass(frozen=True, slots=True)
class VerifiedEvent:
    """A Stripe event whose signature checked out, parsed once."""

    workspace_id: str
    stripe_event_id: str
    type: str
    #: ``event.created``, Unix seconds.
    created: int
    livemode: bool
    api_version: str
    #: ``data.object``, or the object as re-fetched from Stripe.
    object: dict[str, Any]
    previous_attributes: dict[str, Any]
    #: The raw body, exactly as Stripe signed it.
    payload: str
    #: For subscription events: the state the object describes, read (and its preset picked) before
    #: the event queues for the writer, which then only compares and stores.
    subscription: MirrorState | None = None


class SignatureFailures:
    """Counts each workspace's refused signatures and adds them to its row within ``FAILURES_FLUSH_S``.

    The count (``workspaces.signature_failures``), the time and the reason of the latest one are what
    the console's webhook status shows. Requests naming no known workspace are not counted anywhere.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._pending: dict[str, tuple[int, datetime, str]] = {}
        self._flushing: asyncio.Task[None] | None = None

    def note(self, workspace_id: str, reason: str) -> None:
        """One refused signature for ``workspace_id``; written soon, with others that arrive meanwhile."""
        count = self._pending.get(workspace_id, (0, utcnow(), ""))[0]
        self._pending[workspace_id] = (count + 1, utcnow(), reason[:200])
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_later(), name="signature-failures")

    async def _flush_later(self) -> None:
        await asyncio.sleep(FAILURES_FLUSH_S)
        await self.flush()

    async def flush(self) -> None:
        """Write the counts noted so far (kept for the next flush if the database fails)."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            async with self._sessions() as session, session.begin():
                for workspace_id, (count, at, reason) in pending.items():
                    await session.exec(
                        update(Workspace)
                        .where(col(Workspace.id) == workspace_id)
                        .values(
                            signature_failures=col(Workspace.signature_failures) + count,
                            last_signature_failure_at=at,
                            last_signature_failure=reason,
                        )
                    )
        except Exception:
            logger.warning("could not record Stripe signature failures; will try again", exc_info=True)
            for workspace_id, (count, at, reason) in pending.items():
                newer = self._pending.get(workspace_id)
                self._pending[workspace_id] = (count + newer[0], *newer[1:]) if newer else (count, at, reason)

    async def close(self) -> None:
        """Write what is noted now (on shutdown)."""
        if self._flushing is not None:
            self._flushing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flushing
        await self.flush()


def verify_signature(payload: str, header: str, secrets: Sequence[str]) -> None:
    """Pass when any of ``secrets`` signed ``payload`` less than 300 s ago; ``SignatureInvalid`` otherwise."""
    if not header:
        msg = "Missing Stripe-Signature header: only Stripe's signed webhooks are accepted here."
        raise SignatureInvalid(msg)
    if not secrets:
        msg = (
            "No Stripe webhook signing secret is set for this workspace (or there is no such "
            "workspace): set one with `gateway workspace update --webhook-secret whsec_...`."
        )
        raise SignatureInvalid(msg)
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=TOLERANCE_S)
        except stripe.SignatureVerificationError:
            continue
        return
    # Only on failure: was it a good signature, just too old? (a clearer message for replays)
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=None)
        except stripe.SignatureVerificationError:
            continue
        msg = f"The Stripe-Signature timestamp is more than {TOLERANCE_S} seconds old."
        raise SignatureInvalid(msg)
    msg = "The Stripe-Signature does not match this workspace's webhook signing secret."
    raise SignatureInvalid(msg)


def parse_event(workspace_id: str, payload: str) -> VerifiedEvent:
    """The event in a verified body; ``ValidationFailed`` when it is not a Stripe snapshot event."""
    try:
        event = msgspec.json.decode(payload)
    except msgspec.DecodeError as exc:
        msg = "The body is not JSON."
        raise ValidationFailed(msg) from exc
    data = event.get("data") if isinstance(event, dict) else None
    obj = data.get("object") if isinstance(data, dict) else None
    if (
        not isinstance(obj, dict)
        or not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
        or not isinstance(event.get("created"), int)
    ):
        msg = "Not a Stripe snapshot event (thin events are not supported: use a snapshot endpoint)."
        raise ValidationFailed(msg)
    previous = data.get("previous_attributes") if isinstance(data, dict) else None
    return VerifiedEvent(
        workspace_id=workspace_id,
        stripe_event_id=event["id"],
        type=event["type"],
        created=event["created"],
        livemode=event.get("livemode") is True,
        api_version=str(event.get("api_version") or ""),
        object=obj,
        previous_attributes=previous if isinstance(previous, dict) else {},
        payload=payload,
    )


async def refetch_subscription(
    clients: StripeClients, workspace: Workspace, event: VerifiedEvent
) -> VerifiedEvent:
    """``event`` with its subscription as Stripe has it now (customer expanded).

    Stripe being unreachable is passed on (the webhook answers 503 and Stripe retries later); any other
    refusal (a revoked key, a subscription Stripe no longer knows) falls back to the event's own copy.
    """
    subscription_id = str(event.object.get("id") or "")
    try:
        with stripe_errors():
            fetched = await clients.client_for(workspace).v1.subscriptions.retrieve_async(
                subscription_id, params={"expand": ["customer"]}
            )
    except (StripeUnavailable, StripeRateLimited):
        raise
    except StripeFailure as exc:
        logger.warning(
            "re-fetching a subscription failed; using the event's copy",
            extra={"workspace_id": workspace.id, "subscription_id": subscription_id, "error": exc.code},
        )
        return event
    return replace(event, object=fetched.to_dict())
