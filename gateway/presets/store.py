"""Workspace presets and synced configurations in the database."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Update, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import PresetNotFound
from gateway.models import PortalConfiguration, WorkspacePreset, utcnow
from gateway.presets.catalog import (
    Catalog,
    NamedPreset,
    choose_preset,
    from_body,
    load_folder,
    overlay,
    parse_body,
)
from gateway.presets.loading import Problem
from gateway.settings import Settings


def _own(rows: Iterable[WorkspacePreset], catalog: Catalog) -> Catalog:
    named: list[NamedPreset] = []
    problems: dict[str, list[Problem]] = {}
    for row in rows:
        # A row stored before a rule was added may break it now: keep it, and say so when used.
        preset, found = parse_body(row.name, row.body)
        if preset is not None:
            named.append(preset)
        else:
            problems[row.name] = found
    catalog = overlay(catalog, named)
    for name, found in problems.items():
        catalog.presets.pop(name, None)
        catalog.problems[name] = found
    return catalog


async def workspace_catalog(session: AsyncSession, settings: Settings, workspace_id: str) -> Catalog:
    """Every preset the workspace can use: the preset files, overridden by its own presets."""
    return (await workspace_catalogs(session, settings, [workspace_id]))[workspace_id]


async def workspace_catalogs(
    session: AsyncSession, settings: Settings, workspace_ids: Sequence[str]
) -> dict[str, Catalog]:
    """``workspace_catalog`` of each of ``workspace_ids``, read in one query."""
    own: dict[str, list[WorkspacePreset]] = {workspace_id: [] for workspace_id in workspace_ids}
    query = select(WorkspacePreset).where(col(WorkspacePreset.workspace_id).in_(workspace_ids))
    for row in (await session.exec(query)).all():
        own[row.workspace_id].append(row)
    files = load_folder(settings.presets_dir)
    return {workspace_id: _own(rows, files) for workspace_id, rows in own.items()}


async def auto_preset(
    session: AsyncSession, settings: Settings, workspace_id: str, items: Iterable[Mapping[str, Any]]
) -> str:
    """The preset ``auto`` picks in this workspace for a subscription with ``items`` ("default" if none).

    ``items`` carry the mirror's keys (``price_id``, ``price_lookup_key``, ``product_id``). For the
    webhooks-in side filling ``subscriptions.preset`` and the flat events' ``preset``.
    """
    catalog = await workspace_catalog(session, settings, workspace_id)
    return choose_preset(catalog.presets, items)


async def put_preset(
    session: AsyncSession, workspace_id: str, name: str, body: Mapping[str, Any]
) -> tuple[NamedPreset, bool]:
    """Store a workspace preset (validated first); whether it is new."""
    named = from_body(name, body)
    query = select(WorkspacePreset).where(
        WorkspacePreset.workspace_id == workspace_id, WorkspacePreset.name == name
    )
    row = (await session.exec(query)).first()
    created = row is None
    if row is None:
        row = WorkspacePreset(workspace_id=workspace_id, name=name)
    row.body = dict(body)
    row.updated_at = utcnow()
    session.add(row)
    await session.flush()
    return named, created


async def delete_preset(session: AsyncSession, workspace_id: str, name: str) -> None:
    """Remove a workspace preset (a file preset of the same name applies again)."""
    query = select(WorkspacePreset).where(
        WorkspacePreset.workspace_id == workspace_id, WorkspacePreset.name == name
    )
    row = (await session.exec(query)).first()
    if row is None:
        msg = f"This workspace has no preset of its own named {name!r} (file presets cannot be deleted)."
        raise PresetNotFound(msg)
    await session.delete(row)
    await session.flush()


async def synced_configurations(session: AsyncSession, workspace_id: str) -> dict[str, PortalConfiguration]:
    """The configurations synced for the workspace, by preset name."""
    return (await synced_configurations_of(session, [workspace_id]))[workspace_id]


async def synced_configurations_of(
    session: AsyncSession, workspace_ids: Sequence[str]
) -> dict[str, dict[str, PortalConfiguration]]:
    """``synced_configurations`` of each of ``workspace_ids``, read in one query."""
    found: dict[str, dict[str, PortalConfiguration]] = {workspace_id: {} for workspace_id in workspace_ids}
    query = select(PortalConfiguration).where(col(PortalConfiguration.workspace_id).in_(workspace_ids))
    for row in (await session.exec(query)).all():
        found[row.workspace_id][row.preset] = row
    return found


async def mark_stale(session: AsyncSession, workspace_id: str, configuration_id: str) -> bool:
    """Note that a configuration changed in Stripe; whether the gateway knew it.

    For ``billing_portal.configuration.updated`` events (webhooks-in runs ``stale_update`` in its
    transaction). The next portal session for that preset compares the configuration with the preset
    again and updates it in place if someone edited it (in the Dashboard, say); every process notices
    within the cache's time to live (``gateway.portal.cache.TTL_S``).
    """
    result = await session.exec(stale_update(workspace_id, configuration_id))
    return bool(result.rowcount)


def stale_update(workspace_id: str, configuration_id: str) -> Update:
    """The statement behind ``mark_stale``, for callers holding a plain connection."""
    return (
        update(PortalConfiguration)
        .where(
            col(PortalConfiguration.workspace_id) == workspace_id,
            col(PortalConfiguration.configuration_id) == configuration_id,
        )
        .values(stale=True)
    )
