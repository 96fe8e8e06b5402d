"""Workspace views for portal requests: kept in memory, read again together once expired."""

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import Workspace
from gateway.portal.cache import PortalCache, WorkspaceGone
from gateway.settings import Settings
from gateway.vault import Vault
from tests.support import Tenant, make_tenant, statements

pytestmark = pytest.mark.anyio


async def _tenants(db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings) -> list[Tenant]:
    return [await make_tenant(db, vault, settings, f"shop-{n}") for n in range(5)]


async def _expire_while_asking(cache: PortalCache, tenants: list[Tenant]) -> None:
    """Expire every view, then keep asking for them (as requests would) until all are renewed."""
    cache.ttl = -1  # every view is expired the moment it is read
    for tenant in tenants:
        await cache.view(tenant.workspace_id)
    cache.ttl = 60
    for _ in range(2000):
        views = [await cache.view(tenant.workspace_id) for tenant in tenants]
        if all(view.expires > asyncio.get_running_loop().time() for view in views):
            return
        await asyncio.sleep(0.001)
    pytest.fail("the expired views were not read again")


async def test_expired_views_are_read_again_together_and_keep_serving_meanwhile(
    db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings
) -> None:
    """Five expired views: one read (three queries), however often they are asked for meanwhile."""
    tenants = await _tenants(db, vault, settings)
    cache = PortalCache(db, settings)
    with statements(db) as queries:
        await _expire_while_asking(cache, tenants)
    first_loads = 5 * 3
    assert len(queries) == first_loads + 3
    for tenant in tenants:
        view = await cache.view(tenant.workspace_id)
        assert view.workspace.id == tenant.workspace_id
        assert "default" in view.catalog.presets


async def test_a_workspace_deleted_elsewhere_is_gone_after_the_next_read(
    db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings
) -> None:
    """Another process deleted it: its view serves until the reread, then the workspace is gone."""
    tenants = await _tenants(db, vault, settings)
    cache = PortalCache(db, settings)
    async with db() as session, session.begin():
        workspace = await session.get(Workspace, tenants[0].workspace_id)
        await session.delete(workspace)
    await _expire_while_asking(cache, tenants[1:])  # loads them; the deleted one is loaded below
    with pytest.raises(WorkspaceGone):
        await cache.view(tenants[0].workspace_id)
    view = await cache.view(tenants[1].workspace_id)
    async with db() as session, session.begin():
        await session.delete(await session.get(Workspace, tenants[1].workspace_id))
    view.expires = 0.0  # its time is up
    assert (await cache.view(tenants[1].workspace_id)) is view  # served while it is read again
    for _ in range(300):
        await asyncio.sleep(0.005)
        try:
            await cache.view(tenants[1].workspace_id)
        except WorkspaceGone:
            break
    with pytest.raises(WorkspaceGone):
        await cache.view(tenants[1].workspace_id)


async def test_a_failed_read_keeps_serving_what_was_known(
    db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database unreachable during a reread: the old views keep serving, renewed for a TTL."""
    tenants = await _tenants(db, vault, settings)
    cache = PortalCache(db, settings)
    cache.ttl = -1
    views = [await cache.view(tenant.workspace_id) for tenant in tenants]

    async def unreachable(_ids: Any) -> Any:
        msg = "database unreachable"
        raise ConnectionError(msg)

    monkeypatch.setattr(cache, "_read", unreachable)
    cache.ttl = 60
    assert [await cache.view(t.workspace_id) for t in tenants] == views
    for _ in range(100):
        await asyncio.sleep(0.005)
        if all(view.expires > asyncio.get_running_loop().time() for view in views):
            break
    assert [await cache.view(t.workspace_id) for t in tenants] == views
    assert all(view.expires > asyncio.get_running_loop().time() for view in views)


async def test_views_about_to_expire_are_read_with_an_expired_one_and_then_expire_together(
    db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings
) -> None:
    """Views loaded at scattered moments: the first reread takes those a second from expiry too."""
    tenants = await _tenants(db, vault, settings)
    cache = PortalCache(db, settings)
    cache.ttl = 60
    views = [await cache.view(tenant.workspace_id) for tenant in tenants]
    now = asyncio.get_running_loop().time()
    views[0].expires = now - 0.1  # expired
    for view in views[1:]:
        view.expires = now + 0.5  # within the next second
    with statements(db) as queries:
        await cache.view(tenants[0].workspace_id)
        for _ in range(2000):
            renewed = [await cache.view(tenant.workspace_id) for tenant in tenants]
            if all(view.expires > now + 30 for view in renewed):
                break
            await asyncio.sleep(0.001)
    assert len(queries) == 3  # one read of all five
    assert len({view.expires for view in renewed}) == 1


async def test_first_requests_for_several_workspaces_at_once_share_one_read(
    db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings
) -> None:
    """Five workspaces asked for at once (each twice): one read of three queries; a missing one is gone."""
    tenants = await _tenants(db, vault, settings)
    cache = PortalCache(db, settings)
    asked = [tenant.workspace_id for tenant in tenants for _ in range(2)]
    with statements(db) as queries:
        views = await asyncio.gather(*(cache.view(workspace_id) for workspace_id in asked))
        gone = await asyncio.gather(cache.view("ws_gone"), return_exceptions=True)
    assert len(queries) == 3 + 3
    assert [view.workspace.id for view in views] == asked
    assert [type(outcome) for outcome in gone] == [WorkspaceGone]
