"""``gateway workspace``: create, update and list workspaces."""

from typing import Any

import click
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.cli.output import emit, in_session, say
from gateway.models import Workspace
from gateway.settings import Settings
from gateway.stripe_client import StripeClients
from gateway.timestamps import iso
from gateway.vault import Vault
from gateway.webhook_endpoints import register_webhook_endpoint
from gateway.workspaces import (
    add_webhook_secret,
    create_workspace,
    get_workspace,
    list_workspaces,
    replace_stripe_key,
    set_allowed_return_urls,
    set_webhook_secrets,
    webhook_secrets,
    webhook_url,
)


@click.group()
def workspace() -> None:
    """Workspaces: one Stripe account in one mode each."""


@workspace.command("create")
@click.argument("name")
@click.option("--stripe-key", required=True, help="The Stripe secret key (sk_test_/sk_live_ or rk_).")
@click.option("--webhook-secret", default="", help="The Stripe webhook signing secret (whsec_...).")
@click.option(
    "--register-webhook",
    is_flag=True,
    help="Create the Stripe webhook endpoint (webhook_url, the events handled) and keep its secret.",
)
@click.option("--api-base", default="", help="A Stripe-compatible API base for this workspace.")
def workspace_create(
    name: str, stripe_key: str, webhook_secret: str, register_webhook: bool, api_base: str
) -> None:
    """Create a workspace and print its admin API key (shown once)."""
    settings = Settings()
    vault = Vault(settings.secret_keys())

    async def work(session: AsyncSession) -> dict[str, Any]:
        ws, raw_key = await create_workspace(
            session,
            vault,
            settings,
            name=name,
            stripe_key=stripe_key,
            webhook_secret=webhook_secret,
            api_base=api_base,
        )
        if register_webhook:  # in the same transaction: a refusal from Stripe creates nothing here
            await _register_webhook(settings, vault, ws)
            session.add(ws)
        return {
            "workspace_id": ws.id,
            "name": ws.name,
            "api_key": raw_key,
            "webhook_url": webhook_url(settings, ws.id),
            "livemode": ws.livemode,
        }

    created = in_session(settings, work)
    emit(created)
    say(f"Workspace {name} created. The API key above is shown once: store it now.")
    if register_webhook:
        say(f"Stripe now sends this workspace's events to {created['webhook_url']}")
    else:
        say(f"Point a Stripe webhook endpoint at {created['webhook_url']}")


async def _register_webhook(settings: Settings, vault: Vault, ws: Workspace) -> str:
    clients = StripeClients(settings, vault)
    try:
        return await register_webhook_endpoint(clients, settings, vault, ws)
    finally:
        await clients.close()


@workspace.command("update")
@click.argument("name")
@click.option(
    "--webhook-secret", default="", help="A new signing secret (whsec_...); the previous one keeps working."
)
@click.option("--drop-previous-secret", is_flag=True, help="Keep only the newest signing secret.")
@click.option(
    "--register-webhook", is_flag=True, help="Create a new Stripe webhook endpoint and keep its secret."
)
@click.option(
    "--refetch-subscriptions/--no-refetch-subscriptions",
    default=None,
    help="Read each subscription from Stripe before forwarding its events (one Stripe call per event).",
)
@click.option("--stripe-key", default="", help="A new Stripe secret key of the same mode (a rolled key).")
@click.option(
    "--allowed-return-urls",
    default=None,
    help="Comma-separated URL prefixes every preset may return to (replaces the list; '' empties it).",
)
def workspace_update(  # noqa: PLR0917  (one parameter an option)
    name: str,
    webhook_secret: str,
    drop_previous_secret: bool,
    register_webhook: bool,
    refetch_subscriptions: bool | None,
    stripe_key: str,
    allowed_return_urls: str | None,
) -> None:
    """Change a workspace: its Stripe key, webhook signing secrets, return URLs, re-fetching."""
    settings = Settings()
    vault = Vault(settings.secret_keys())

    async def work(session: AsyncSession) -> dict[str, Any]:
        ws = await get_workspace(session, name)
        if webhook_secret:
            add_webhook_secret(vault, ws, webhook_secret)
        if register_webhook:
            await _register_webhook(settings, vault, ws)
        if drop_previous_secret:
            set_webhook_secrets(vault, ws, webhook_secrets(vault, ws)[:1])
        if refetch_subscriptions is not None:
            ws.refetch_subscriptions = refetch_subscriptions
        if stripe_key:
            replace_stripe_key(vault, ws, stripe_key)
        if allowed_return_urls is not None:
            urls = [url.strip() for url in allowed_return_urls.split(",") if url.strip()]
            set_allowed_return_urls(ws, urls)
        session.add(ws)
        return {
            "workspace_id": ws.id,
            "name": ws.name,
            "livemode": ws.livemode,
            "webhook_url": webhook_url(settings, ws.id),
            "webhook_secrets": len(webhook_secrets(vault, ws)),
            "stripe_webhook_endpoint_id": ws.stripe_webhook_endpoint_id,
            "refetch_subscriptions": ws.refetch_subscriptions,
            "allowed_return_urls": ws.allowed_return_urls,
        }

    emit(in_session(settings, work))
    say("Running gateways use the change within seconds.")


@workspace.command("list")
def workspace_list() -> None:
    """List workspaces."""
    settings = Settings()

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        return [
            {
                "workspace_id": ws.id,
                "name": ws.name,
                "livemode": ws.livemode,
                "sandbox": ws.sandbox,
                "webhook_url": webhook_url(settings, ws.id),
                "created_at": iso(ws.created_at),
            }
            for ws in await list_workspaces(session)
        ]

    emit(in_session(settings, work))
