"""/v1/keys: list, create and revoke a workspace's API keys."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.keys import record_key_use
from gateway.models import ApiKey
from tests.support import Tenant, assert_error, statements

pytestmark = pytest.mark.anyio

KEY_FIELDS = {"id", "name", "scope", "prefix", "created_at", "last_used_at", "revoked", "ok"}


async def test_create_key_shows_it_once_and_stores_a_hash(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """A new key is returned once; the database holds only its SHA-256 and prefix."""
    response = await client.post(
        "/v1/keys", json={"scope": "portal", "name": "bubble"}, headers=tenant.headers()
    )
    assert response.status_code == 201
    body = response.json()
    assert body["api_key"].startswith("gw_test_")
    assert len(body["api_key"]) == len("gw_test_") + 43  # 32 random bytes, URL-safe base64
    assert body["prefix"] == body["api_key"][:12]
    async with db() as session:
        stored = await session.get(ApiKey, body["id"])
    assert stored is not None
    assert stored.key_hash == hashlib.sha256(body["api_key"].encode()).hexdigest()
    new_key_works = await client.get("/v1/keys", headers={"Authorization": f"Bearer {body['api_key']}"})
    assert new_key_works.status_code == 403  # portal scope: authenticated, but not an admin


async def test_list_pages_with_cursor(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """Lists page with limit and next_cursor, never showing the keys themselves."""
    for i in range(3):
        await client.post("/v1/keys", json={"name": f"k{i}"}, headers=tenant.headers())
    first = (await client.get("/v1/keys?limit=2", headers=tenant.headers())).json()
    assert first["ok"] is True
    assert first["has_more"] is True
    assert len(first["data"]) == 2
    assert set(first["data"][0]) == KEY_FIELDS
    rest = (
        await client.get(f"/v1/keys?limit=2&cursor={first['next_cursor']}", headers=tenant.headers())
    ).json()
    names = [k["name"] for k in first["data"] + rest["data"]]
    assert names == ["created with workspace", "portal", "k0", "k1", "k2"][: len(names)]
    assert rest["has_more"] is True
    assert rest["next_cursor"]


async def test_another_workspaces_key_is_not_found(
    client: AsyncTestClient[Litestar], tenant: Tenant, other_tenant: Tenant
) -> None:
    """A key of workspace B is invisible and unrevocable for workspace A."""
    theirs = (await client.get("/v1/keys", headers=other_tenant.headers())).json()["data"]
    ours = (await client.get("/v1/keys", headers=tenant.headers())).json()["data"]
    assert not {k["id"] for k in theirs} & {k["id"] for k in ours}
    assert_error(
        await client.delete(f"/v1/keys/{theirs[0]['id']}", headers=tenant.headers()), 404, "not_found"
    )
    assert (await client.get("/v1/keys", headers=other_tenant.headers())).status_code == 200


async def test_revoke_is_idempotent(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """Revoking twice keeps the first revocation time."""
    created = (await client.post("/v1/keys", json={}, headers=tenant.headers())).json()
    await client.delete(f"/v1/keys/{created['id']}", headers=tenant.headers())
    async with db() as session:
        first = (await session.exec(select(ApiKey).where(ApiKey.id == created["id"]))).one().revoked_at
    again = await client.delete(f"/v1/keys/{created['id']}", headers=tenant.headers())
    assert again.json()["revoked"] is True
    async with db() as session:
        assert (
            await session.exec(select(ApiKey).where(ApiKey.id == created["id"]))
        ).one().revoked_at == first


async def test_key_use_is_written_in_one_statement_and_never_moves_back(
    tenant: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """Buffered ``last_used_at`` times of many keys: one UPDATE; an older time leaves a newer one be."""
    async with db() as session:
        keys = {k.scope: k.id for k in (await session.exec(select(ApiKey))).all()}
    later = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    async with db() as session, session.begin():
        await record_key_use(session, {keys["admin"]: later})
    earlier = later - timedelta(hours=1)
    with statements(db, "UPDATE") as updates, statements(db, "SELECT") as reads:
        async with db() as session, session.begin():
            await record_key_use(session, {keys["admin"]: earlier, keys["portal"]: earlier, "key_x": later})
    assert (len(updates), reads) == (1, [])
    async with db() as session:
        used = {k.scope: k.last_used_at for k in (await session.exec(select(ApiKey))).all()}
    assert used == {"admin": later, "portal": earlier}
