"""Portal sessions: one Stripe call per portal URL in the steady state.

A request for a customer ID and a named preset reads the workspace, the preset and its synced
configuration from memory (``gateway.portal.cache``) and makes exactly one Stripe call, the session
create. The first request for a preset (or after the preset changed, or after Stripe says its
configuration changed) syncs the configuration first. Every check that needs no Stripe (preset,
flow, price, return URL, locale) is done before any Stripe call.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import stripe
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import ValidationFailed
from gateway.models import PortalConfiguration, utcnow
from gateway.portal.cache import PortalCache, WorkspaceView
from gateway.portal.checks import (
    CONFIRM,
    SUBSCRIPTION_FLOWS,
    PortalAsk,
    check_flow,
    check_return_url,
    flow_data,
    offered_price,
)
from gateway.portal.customers import (
    CurrentSubscription,
    check_customer_fields,
    current_subscription,
    find_customer,
    item_of,
    mirrored_items,
)
from gateway.presets import AUTO, DEFAULT_PRESET, NamedPreset, choose_preset
from gateway.presets.sync import SyncResult, apply, record
from gateway.settings import Settings
from gateway.stripe_client import StripeClients, stripe_errors
from gateway.timestamps import from_unix

logger = logging.getLogger(__name__)

#: Stripe: "New portal sessions expire after a 5 minute period" if unused.
SESSION_UNUSED_TTL = timedelta(minutes=5)


@dataclass(frozen=True)
class PortalSession:
    """A portal URL made for a customer."""

    url: str
    session_id: str
    preset: str
    configuration_id: str
    customer_id: str
    flow: str
    expires_at: datetime
    livemode: bool


class Portal:
    """Makes portal sessions for the workspaces of this gateway."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        stripe: StripeClients,
        *,
        reads: async_sessionmaker[AsyncSession],
    ) -> None:
        self.cache = PortalCache(reads, settings)
        self._settings = settings
        self._sessions = sessions
        self._stripe = stripe
        self._sync_locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def configuration(
        self, view: WorkspaceView, named: NamedPreset, *, again: bool = False
    ) -> PortalConfiguration:
        """The preset's configuration in Stripe: from memory, or synced now (once per process at a time).

        ``again``: Stripe refused the one in memory; sync unless another request just did.
        """
        refused = view.configurations.get(named.name) if again else None

        def current() -> PortalConfiguration | None:
            found = view.configurations.get(named.name)
            usable = found and found.digest == named.digest and not found.stale and found is not refused
            return found if usable else None

        found = current()
        if found is not None:
            return found
        async with self._sync_locks.setdefault((view.workspace.id, named.name), asyncio.Lock()):
            view = await self.cache.view(view.workspace.id)
            found = current()
            if found is not None:
                return found
            return (await self._sync(view, named))[1]

    async def sync(self, workspace_id: str, name: str) -> tuple[SyncResult, PortalConfiguration]:
        """Sync one preset to Stripe now (``POST /v1/presets/{name}/sync``)."""
        view = await self.cache.view(workspace_id)
        named = view.catalog.get(name)
        async with self._sync_locks.setdefault((workspace_id, name), asyncio.Lock()):
            return await self._sync(view, named)

    async def _sync(self, view: WorkspaceView, named: NamedPreset) -> tuple[SyncResult, PortalConfiguration]:
        workspace_id = view.workspace.id
        result = await apply(self._stripe.client_for(view.workspace), view.workspace, named)
        async with self._sessions() as session, session.begin():
            synced = await record(session, workspace_id, named, result)
        self.cache.remember(workspace_id, synced)
        if result.action != "unchanged":
            extra = {
                "workspace_id": workspace_id,
                "preset": named.name,
                "configuration_id": result.configuration_id,
            }
            logger.info("preset configuration %sd in Stripe", result.action, extra=extra)
        return result, synced

    async def resolve_customer(
        self, view: WorkspaceView, ask: PortalAsk, *, needs_subscription: bool
    ) -> tuple[str, CurrentSubscription | None]:
        """The customer's ID and, when needed, their current subscription."""
        check_customer_fields(customer=ask.customer, email=ask.email, external_user_id=ask.external_user_id)
        if ask.customer and not needs_subscription:
            return ask.customer, None  # the hot path: no database, no Stripe
        client = self._stripe.client_for(view.workspace)
        async with self._sessions() as session:
            customer_id = ask.customer or await find_customer(
                session, client, view.workspace.id, email=ask.email, external_user_id=ask.external_user_id
            )
            if not needs_subscription:
                return customer_id, None
            if ask.subscription:
                return customer_id, CurrentSubscription(ask.subscription)
            return customer_id, await current_subscription(session, client, view.workspace.id, customer_id)

    async def create_session(self, workspace_id: str, ask: PortalAsk) -> PortalSession:
        """A fresh portal session for what ``ask`` says."""
        view = await self.cache.view(workspace_id)
        auto = ask.preset == AUTO
        named = None if auto else view.catalog.get(ask.preset or DEFAULT_PRESET)
        if named is not None:
            check_flow(ask, named)
            check_return_url(ask, named, view, self._settings.public_url)
        needs_subscription = auto or bool(ask.flow or (named and named.preset.flow))
        customer_id, subscription = await self.resolve_customer(
            view, ask, needs_subscription=needs_subscription
        )
        if named is None:
            named = view.catalog.get(
                choose_preset(view.catalog.presets, subscription.items if subscription else ())
            )
        flow = check_flow(ask, named)
        return_url = check_return_url(ask, named, view, self._settings.public_url)
        configuration = await self.configuration(view, named)
        params: dict[str, Any] = {
            "customer": customer_id,
            "configuration": configuration.configuration_id,
            "return_url": return_url,
        }
        if ask.locale and ask.locale != "auto":
            params["locale"] = ask.locale
        flow = await self._flow(
            view,
            flow=flow,
            ask=ask,
            subscription=subscription,
            configuration=configuration,
            named=named,
            params=params,
        )
        client = self._stripe.client_for(view.workspace)
        with stripe_errors():
            try:
                session = await client.v1.billing_portal.sessions.create_async(params=params)  # type: ignore[arg-type]
            except stripe.InvalidRequestError as exc:
                if exc.param != "configuration":
                    raise
                # Deactivated or gone in Stripe (no webhook yet): sync it again and try once more.
                configuration = await self.configuration(view, named, again=True)
                params["configuration"] = configuration.configuration_id
                session = await client.v1.billing_portal.sessions.create_async(params=params)  # type: ignore[arg-type]
        created = from_unix(session.created) or utcnow()
        return PortalSession(
            url=session.url,
            session_id=session.id,
            preset=named.name,
            configuration_id=configuration.configuration_id,
            customer_id=customer_id,
            flow=flow,
            expires_at=created + SESSION_UNUSED_TTL,
            livemode=bool(session.livemode),
        )

    async def dry_run(self, workspace_id: str, ask: PortalAsk) -> PortalSession:
        """A fully filled example answer for ``ask``, checked like a real one, without calling Stripe."""
        view = await self.cache.view(workspace_id)
        check_customer_fields(customer=ask.customer, email=ask.email, external_user_id=ask.external_user_id)
        name = ask.preset or DEFAULT_PRESET
        if name == AUTO:
            items: list[dict[str, Any]] = []
            if ask.customer:
                async with self._sessions() as session:
                    items = await mirrored_items(session, workspace_id, ask.customer)
            name = choose_preset(view.catalog.presets, items)
        named = view.catalog.get(name)
        flow = check_flow(ask, named)
        check_return_url(ask, named, view, self._settings.public_url)
        configuration = view.configurations.get(named.name)
        mode = "live" if view.workspace.livemode else "test"
        return PortalSession(
            url=f"https://billing.stripe.com/p/session/{mode}_dry_run_example",
            session_id="bps_dry_run_example",
            preset=named.name,
            configuration_id=configuration.configuration_id if configuration else "bpc_dry_run_example",
            customer_id=ask.customer or "cus_dry_run_example",
            flow=flow,
            expires_at=utcnow().replace(microsecond=0) + SESSION_UNUSED_TTL,
            livemode=view.workspace.livemode,
        )

    async def _flow(
        self,
        view: WorkspaceView,
        *,
        flow: str,
        ask: PortalAsk,
        subscription: CurrentSubscription | None,
        configuration: PortalConfiguration,
        named: NamedPreset,
        params: dict[str, Any],
    ) -> str:
        """Add the deep link to ``params``; the flow actually opened ("" when it cannot apply)."""
        if not flow:
            return ""
        price = offered_price(configuration, named.name, ask.price) if flow == CONFIRM else ""
        item = ""
        if flow in SUBSCRIPTION_FLOWS:
            if subscription is None:
                if flow == CONFIRM:
                    msg = "This customer has no current subscription to switch."
                    raise ValidationFailed(msg, field="flow")
                return ""  # nothing to cancel or update: the portal's home page instead
            if flow == "subscription_cancel" and subscription.cancel_at_period_end:
                return ""  # already canceling: the home page offers to renew instead
            if flow == CONFIRM:
                item = await item_of(self._stripe.client_for(view.workspace), subscription)
        params["flow_data"] = flow_data(
            flow, subscription.id if subscription else "", item, price, params["return_url"]
        )
        return flow
