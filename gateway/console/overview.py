"""The console's first page: the workspace's mode, its Stripe connection, webhook endpoint and backlog."""

import asyncio
from dataclasses import dataclass
from typing import Any

from litestar import Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.response import Template
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.console.pages import page
from gateway.console.session import Admin
from gateway.deliveries import backlog
from gateway.errors import GatewayError
from gateway.event_log import last_stripe_event
from gateway.models import Workspace
from gateway.settings import Settings
from gateway.stripe_client import StripeClients, stripe_errors
from gateway.subscribers import list_subscribers
from gateway.vault import Vault
from gateway.workspaces import stripe_api_base, webhook_secrets, webhook_url

#: The overview waits this long for Stripe before saying it did not answer.
HEALTH_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class StripeHealth:
    """Whether the workspace's Stripe key works: one cheap call the portal needs anyway."""

    ok: bool
    message: str
    #: The gateway's error code when it does not ("" when it does).
    code: str = ""


async def stripe_health(clients: StripeClients, workspace: Workspace) -> StripeHealth:
    """List one portal configuration with the workspace's key (what every preset sync needs)."""
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_S):
            with stripe_errors():
                await clients.client_for(workspace).v1.billing_portal.configurations.list_async(
                    params={"limit": 1}
                )
    except TimeoutError:
        return StripeHealth(
            ok=False, message=f"Stripe did not answer within {HEALTH_TIMEOUT_S:g} seconds.", code="timeout"
        )
    except GatewayError as exc:
        return StripeHealth(ok=False, message=exc.message, code=exc.code)
    return StripeHealth(ok=True, message="Connected: the key can read this account's portal configurations.")


@get("/", name="console-overview")
async def overview(
    request: Request[Any, Any, State],
    admin: NamedDependency[Admin],
    session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    vault: NamedDependency[Vault],
) -> Template:
    """Mode, Stripe connection health, webhook endpoint status and outbox backlog."""
    workspace = admin.workspace
    subscribers = await list_subscribers(session, workspace_id=workspace.id)
    last_event = await last_stripe_event(session, workspace_id=workspace.id)
    waiting = await backlog(session, workspace_id=workspace.id)
    await session.commit()  # the database's part is done: hold no transaction while Stripe answers
    return page(
        "overview.html",
        request,
        admin,
        stripe=await stripe_health(request.app.state.stripe, workspace),
        stripe_api_base=stripe_api_base(settings, workspace),
        webhook_url=webhook_url(settings, workspace.id),
        webhook_secrets=len(webhook_secrets(vault, workspace)),
        last_event=last_event,
        backlog=waiting,
        subscribers=len(subscribers),
        enabled_subscribers=sum(1 for s in subscribers if s.enabled),
    )


HANDLERS = [overview]
