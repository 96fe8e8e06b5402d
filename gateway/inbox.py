"""Where Stripe's webhooks land: checked in the request, then written by one group-committing writer.

Everything that costs CPU but no database (signature, parsing, the optional re-fetch from Stripe)
happens in the request, concurrently; only verified events queue for the writer, and the request
is answered once the transaction holding its event has committed.
"""

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

from litestar import Litestar
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import NotFound, SignatureInvalid, ValidationFailed
from gateway.event_facts import SUBSCRIPTION_EVENTS
from gateway.group_commit import GroupCommitter
from gateway.ingest import Outcome, apply_batch
from gateway.metrics import counts_stripe_webhooks
from gateway.mirror import MirrorState, read_subscription
from gateway.portal.cache import PortalCache
from gateway.presets import choose_preset
from gateway.stripe_client import StripeClients
from gateway.stripe_events import (
    SignatureFailures,
    VerifiedEvent,
    parse_event,
    refetch_subscription,
    verify_signature,
)
from gateway.vault import Vault
from gateway.webhook_targets import WebhookTargets
from gateway.writer import Writer


class Inbox:
    """Receives the Stripe events of every workspace."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        vault: Vault,
        writer: Writer,
        stripe_clients: StripeClients,
        portal: PortalCache,
        *,
        reads: async_sessionmaker[AsyncSession],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.targets = WebhookTargets(reads, vault)
        self.signature_failures = SignatureFailures(sessions)
        #: Called after an event's transaction committed (it may have queued deliveries: wake workers).
        self._on_commit = on_commit
        self.writer: GroupCommitter[VerifiedEvent, Outcome] = GroupCommitter(writer, apply_batch)
        self._stripe = stripe_clients
        self._portal = portal

    @counts_stripe_webhooks
    async def receive(self, workspace_id: str, body: bytes, signature: str) -> tuple[VerifiedEvent, Outcome]:
        """Verify, parse and durably apply one delivery of a Stripe event; the event and its outcome."""
        try:
            payload = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = "The body is not UTF-8 text."
            raise ValidationFailed(msg) from exc
        target = await self.targets.get(workspace_id)
        try:
            verify_signature(payload, signature, target.secrets if target else ())  # no workspace: no secrets
        except SignatureInvalid as exc:
            if target is not None:
                self.signature_failures.note(workspace_id, exc.message)
            raise
        event = parse_event(workspace_id, payload)
        if event.type in SUBSCRIPTION_EVENTS:
            if target and target.workspace.refetch_subscriptions:
                event = await refetch_subscription(self._stripe, target.workspace, event)
            event = replace(event, subscription=await self._read_subscription(event))
        outcome = await self.writer.submit(event)
        if outcome != "duplicate":
            self._on_commit()
        return event, outcome

    async def _read_subscription(self, event: VerifiedEvent) -> MirrorState:
        """The state the event's subscription object describes, with the preset ``auto`` picks for it."""
        state = read_subscription(
            event.object, event_type=event.type, event_id=event.stripe_event_id, created=event.created
        )
        try:
            catalog = (await self._portal.view(event.workspace_id)).catalog
        except NotFound:  # the workspace was deleted since its signature checked out
            return state
        state.preset = choose_preset(catalog.presets, state.items)
        return state


@contextlib.asynccontextmanager
async def run_inbox(app: Litestar) -> AsyncIterator[None]:
    """Lifespan: the inbox and its writer (stopped after what was accepted is written)."""
    state = app.state
    writer = Writer(state.settings)
    state.inbox = Inbox(
        state.session_factory,
        state.vault,
        writer,
        state.stripe,
        state.portal.cache,
        reads=state.read_sessions,
        on_commit=state.outbox_notifier.poke,
    )
    state.inbox.writer.start()
    try:
        yield
    finally:
        await state.inbox.writer.stop()
        await state.inbox.signature_failures.close()
        await writer.close()
