"""``gateway presets``: validate files, plan and sync Stripe portal configurations."""

import sys
from pathlib import Path
from typing import Any

import click
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.cli.output import emit, in_session, say
from gateway.presets import DEFAULT_PRESET, workspace_catalog
from gateway.presets.catalog import load_files
from gateway.presets.sync import sync_catalog
from gateway.settings import Settings
from gateway.stripe_client import StripeClients
from gateway.vault import Vault
from gateway.workspaces import (
    get_workspace,
)


@click.group()
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
        say("no preset files found (*.yaml, *.yml)")
        sys.exit(1)
    if DEFAULT_PRESET not in catalog.presets and not paths:
        say(f"warning: no valid {DEFAULT_PRESET!r} preset: requests that name no preset will fail")
    say(f"{len(catalog.presets)} valid, {len(catalog.problems)} invalid")
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

    report = in_session(settings, work)
    emit(report)
    for item in report:
        verb = item["action"] if changes else f"would {item['action']}"
        detail = "; ".join(item.get("problems", [])) or ", ".join(c["path"] for c in item.get("changes", []))
        say(f"{item['preset']}: {verb}{f' ({detail})' if detail else ''}")
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
