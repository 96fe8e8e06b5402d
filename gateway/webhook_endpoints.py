"""The workspace's webhook endpoint in Stripe: created through the SDK, its signing secret kept."""

from typing import Any, cast

import stripe

from gateway.event_facts import HANDLED_EVENTS
from gateway.models import Workspace
from gateway.settings import Settings
from gateway.stripe_client import StripeClients, stripe_errors
from gateway.vault import Vault
from gateway.workspaces import add_webhook_secret, webhook_url


async def register_webhook_endpoint(
    clients: StripeClients, settings: Settings, vault: Vault, workspace: Workspace
) -> str:
    """Create the endpoint Stripe sends this workspace's events to; its ID.

    It listens to the events the gateway acts on, at the API version the SDK is pinned to (so event
    payloads have the shape the gateway reads first), and its secret (shown only at creation) becomes
    the workspace's newest signing secret; a previous one keeps working until it is dropped.
    """
    with stripe_errors():
        endpoint = await clients.client_for(workspace).v1.webhook_endpoints.create_async(
            params={
                "url": webhook_url(settings, workspace.id),
                # The SDK types this as a Literal of every event type; ours are among them.
                "enabled_events": cast("Any", list(HANDLED_EVENTS)),
                "api_version": cast("Any", stripe.api_version),
                "description": "Portal Gateway",
                "metadata": {"gateway_workspace": workspace.id},
            }
        )
    add_webhook_secret(vault, workspace, str(endpoint.secret))
    workspace.stripe_webhook_endpoint_id = endpoint.id
    return endpoint.id
