"""The ``gateway`` command. Commands that create print one JSON object on stdout; lists, a JSON array.

Human messages go to stderr, so scripts can read stdout as JSON.
"""

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import uvicorn
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.app import create_app
from gateway.db import make_engine, make_session_factory, upgrade_database
from gateway.errors import GatewayError
from gateway.keys import create_key, list_keys, revoke_key
from gateway.models import Workspace
from gateway.openapi import render_openapi
from gateway.presets import DEFAULT_PRESET, workspace_catalog
from gateway.presets.catalog import load_files
from gateway.presets.sync import sync_catalog
from gateway.sandbox.first_run import SandboxWorkspace, make_sandbox_workspace, welcome
from gateway.settings import Settings
from gateway.stripe_client import StripeClients
from gateway.timestamps import iso
from gateway.vault import Vault
from gateway.webhook_endpoints import register_webhook_endpoint
from gateway.worker import run_worker
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

T = TypeVar("T")


def _emit(value: object) -> None:
    click.echo(json.dumps(value, indent=2))


def _say(message: str) -> None:
    click.echo(message, err=True)


def _in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction; a ``GatewayError`` exits 1 with its message."""

    async def run() -> T:
        engine = make_engine(settings)
        try:
            async with make_session_factory(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except GatewayError as exc:
        _say(f"error: {exc.message}")
        sys.exit(1)


@click.group()
def main() -> None:
    """Portal Gateway: Stripe portal URLs by preset, subscription changes out to callbacks."""


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default: HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: PORT or 8000).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the HTTP API (and deliver callbacks unless GATEWAY_WORKER=off)."""
    # Given here, they count as HOST/PORT: GATEWAY_PUBLIC_URL, when unset, follows them.
    given: dict[str, Any] = {k: v for k, v in (("HOST", host), ("PORT", port)) if v is not None}
    settings = Settings(**given)
    if settings.is_sqlite:  # SQLite means one machine and no release step: migrate on every start
        upgrade_database(settings)
    if settings.env == "development":
        _say(_sandbox_first_run(settings))
    _say(f"Portal Gateway listening on http://{settings.host}:{settings.port}")
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)


def _sandbox_first_run(settings: Settings) -> str:
    """Make the sandbox workspace when there is no workspace yet; what to tell the developer."""
    vault = Vault(settings.secret_keys())

    async def work(session: AsyncSession) -> SandboxWorkspace | None:
        return await make_sandbox_workspace(session, vault, settings)

    made = _in_session(settings, work)
    if made is not None:
        return welcome(settings, made, first=True)
    kept = SandboxWorkspace.read(settings)
    return welcome(settings, kept, first=False) if kept is not None else ""


@main.command()
@click.option("--concurrency", type=click.IntRange(1, 1000), default=None, help="Attempts in flight at once.")
def worker(concurrency: int | None) -> None:
    """Deliver callbacks (alone, to scale out: run several on PostgreSQL)."""
    run_worker(Settings(), concurrency)


@main.command()
def migrate() -> None:
    """Apply database migrations (alembic upgrade head)."""
    upgrade_database(Settings())
    _say("database is at the newest migration")


@main.group()
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

    created = _in_session(settings, work)
    _emit(created)
    _say(f"Workspace {name} created. The API key above is shown once: store it now.")
    if register_webhook:
        _say(f"Stripe now sends this workspace's events to {created['webhook_url']}")
    else:
        _say(f"Point a Stripe webhook endpoint at {created['webhook_url']}")


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

    _emit(_in_session(settings, work))
    _say("Running gateways use the change within seconds.")


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

    _emit(_in_session(settings, work))


@main.group()
def keys() -> None:
    """API keys of a workspace."""


def _key_item(key: Any) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "scope": key.scope,
        "prefix": key.prefix,
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
        "revoked": key.revoked_at is not None,
    }


@keys.command("create")
@click.option("--workspace", "workspace_name", required=True, help="Workspace name or ID.")
@click.option("--scope", type=click.Choice(["portal", "admin"]), default="portal", show_default=True)
@click.option("--name", default="", help="A label to tell keys apart.")
def keys_create(workspace_name: str, scope: str, name: str) -> None:
    """Create an API key and print it (shown once)."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        ws = await get_workspace(session, workspace_name)
        key, raw = await create_key(session, workspace=ws, scope=scope, name=name)
        return {**_key_item(key), "api_key": raw, "workspace_id": ws.id}

    _emit(_in_session(Settings(), work))
    _say("The API key above is shown once: store it now.")


@keys.command("list")
@click.option("--workspace", "workspace_name", required=True, help="Workspace name or ID.")
def keys_list(workspace_name: str) -> None:
    """List a workspace's API keys (never the keys themselves)."""

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        ws = await get_workspace(session, workspace_name)
        return [_key_item(key) for key in await list_keys(session, workspace_id=ws.id, limit=10_000)]

    _emit(_in_session(Settings(), work))


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by its ID (key_...)."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        return _key_item(await revoke_key(session, key_id=key_id))

    _emit(_in_session(Settings(), work))
    _say(f"Key {key_id} revoked; running gateways stop accepting it within seconds.")


@main.group()
def presets() -> None:
    """Presets: named Stripe portal configurations."""


@presets.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
def presets_validate(paths: tuple[Path, ...]) -> None:
    """Check preset files (default: GATEWAY_PRESETS_DIR); print file:line: problem for each problem."""
    catalog = load_files(paths or [Settings().presets_dir])
    problems = [problem for name in sorted(catalog.problems) for problem in catalog.problems[name]]
    for problem in problems:
        click.echo(str(problem))
    if not catalog.presets and not problems:
        _say("no preset files found (*.yaml, *.yml)")
        sys.exit(1)
    if DEFAULT_PRESET not in catalog.presets and not paths:
        _say(f"warning: no valid {DEFAULT_PRESET!r} preset: requests that name no preset will fail")
    _say(f"{len(catalog.presets)} valid, {len(catalog.problems)} invalid")
    if problems:
        sys.exit(1)


def _sync_presets(workspace_name: str, *, changes: bool) -> None:
    settings = Settings()
    clients = StripeClients(settings, Vault(settings.secret_keys()))

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        try:
            ws = await get_workspace(session, workspace_name)
            catalog = await workspace_catalog(session, settings, ws.id)
            return await sync_catalog(session, clients.client_for(ws), ws, catalog, changes=changes)
        finally:
            await clients.close()

    report = _in_session(settings, work)
    _emit(report)
    for item in report:
        verb = item["action"] if changes else f"would {item['action']}"
        detail = "; ".join(item.get("problems", [])) or ", ".join(c["path"] for c in item.get("changes", []))
        _say(f"{item['preset']}: {verb}{f' ({detail})' if detail else ''}")
    if any(item["action"] in {"invalid", "failed"} for item in report):
        sys.exit(1)


@presets.command("plan")
@click.option("--workspace", "workspace_name", required=True, help="Workspace name or ID.")
def presets_plan(workspace_name: str) -> None:
    """Show what sync would create or update in Stripe (changes nothing)."""
    _sync_presets(workspace_name, changes=False)


@presets.command("sync")
@click.option("--workspace", "workspace_name", required=True, help="Workspace name or ID.")
def presets_sync(workspace_name: str) -> None:
    """Create or update the workspace's Stripe portal configurations now."""
    _sync_presets(workspace_name, changes=True)


@main.command()
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File to write."
)
def openapi(output: Path | None) -> None:
    """Print (or write) the OpenAPI document generated from the app."""
    text = render_openapi(create_app(Settings()))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        _say(f"wrote {output}")
