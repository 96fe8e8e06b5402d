"""``gateway keys``: a workspace's API keys."""

from typing import Any

import click
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.cli.output import emit, in_session, say
from gateway.keys import create_key, list_keys, revoke_key
from gateway.settings import Settings
from gateway.timestamps import iso
from gateway.workspaces import (
    get_workspace,
)


@click.group()
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

    emit(in_session(Settings(), work))
    say("The API key above is shown once: store it now.")


@keys.command("list")
@click.option("--workspace", "workspace_name", required=True, help="Workspace name or ID.")
def keys_list(workspace_name: str) -> None:
    """List a workspace's API keys (never the keys themselves)."""

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        ws = await get_workspace(session, workspace_name)
        return [_key_item(key) for key in await list_keys(session, workspace_id=ws.id, limit=10_000)]

    emit(in_session(Settings(), work))


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by its ID (key_...)."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        return _key_item(await revoke_key(session, key_id=key_id))

    emit(in_session(Settings(), work))
    say(f"Key {key_id} revoked; running gateways stop accepting it within seconds.")
