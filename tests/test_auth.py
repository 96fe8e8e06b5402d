"""Authentication by API key and authorization by scope, over HTTP."""

import asyncio

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import auth
from gateway.auth import Authenticator, Principal, requires_scope
from gateway.errors import ForbiddenScope, Unauthorized
from gateway.models import ApiKey
from gateway.ratelimit import RateLimiter
from tests.support import Tenant, assert_error

pytestmark = pytest.mark.anyio


async def test_missing_key_is_unauthorized(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """No key at all answers 401 unauthorized in the JSON error shape."""
    assert_error(await client.get("/v1/keys"), 401, "unauthorized")


async def test_unknown_key_is_unauthorized(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """A well-formed but unknown key answers 401."""
    response = await client.get("/v1/keys", headers={"Authorization": "Bearer gw_test_" + "A" * 43})
    assert_error(response, 401, "unauthorized")


async def test_admin_key_by_bearer_and_by_header(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """An admin key works as a Bearer token and as X-API-Key."""
    assert (await client.get("/v1/keys", headers=tenant.headers("admin"))).status_code == 200
    assert (await client.get("/v1/keys", headers={"X-API-Key": tenant.admin_key})).status_code == 200


async def test_portal_key_is_forbidden_on_admin_route(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """A portal-scope key gets 403 forbidden_scope on an admin route."""
    assert_error(await client.get("/v1/keys", headers=tenant.headers("portal")), 403, "forbidden_scope")


async def test_revoked_key_is_unauthorized_at_once(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """A key revoked over HTTP stops working on the very next request."""
    keys = (await client.get("/v1/keys", headers=tenant.headers())).json()["data"]
    portal = next(k for k in keys if k["scope"] == "portal")
    # Use it once so it is cached, then revoke it.
    assert (await client.get("/v1/keys", headers=tenant.headers("portal"))).status_code == 403
    response = await client.delete(f"/v1/keys/{portal['id']}", headers=tenant.headers())
    assert response.status_code == 200
    assert response.json()["revoked"] is True
    assert_error(await client.get("/v1/keys", headers=tenant.headers("portal")), 401, "unauthorized")


async def test_last_used_at_is_recorded(
    app: Litestar, tenant: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """Using a key records last_used_at (buffered, written at the latest on shutdown)."""
    async with AsyncTestClient(app) as client:
        assert (await client.get("/v1/keys", headers=tenant.headers())).status_code == 200
    async with db() as session:
        keys = (await session.exec(select(ApiKey))).all()
    used = [k for k in keys if k.last_used_at is not None]
    assert [k.scope for k in used] == ["admin"]


async def test_guard_lets_admin_do_portal_things() -> None:
    """The scope guard: admin keys pass everywhere, portal keys only on portal routes."""

    class Conn:
        def __init__(self, scope: str) -> None:
            self.user = Principal(key_id="key_x", workspace_id="ws_x", scope=scope, livemode=False)

    await requires_scope("portal")(Conn("admin"), None)  # type: ignore[arg-type]
    await requires_scope("portal")(Conn("portal"), None)  # type: ignore[arg-type]
    await requires_scope("admin")(Conn("admin"), None)  # type: ignore[arg-type]


async def test_forbidden_scope_is_a_gateway_error() -> None:
    """The guard raises the domain error, which the app maps to 403."""
    guard = requires_scope("admin")

    class Conn:
        user = Principal(key_id="key_x", workspace_id="ws_x", scope="portal", livemode=False)

    with pytest.raises(ForbiddenScope):
        await guard(Conn(), None)  # type: ignore[arg-type]


async def test_concurrent_requests_share_one_key_lookup(
    tenant: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """Requests arriving while a key is looked up wait for that lookup instead of querying again."""
    engine = db.kw["bind"]
    queries: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "api_keys" in statement:
            queries.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    authenticator = Authenticator(db, RateLimiter(1000, 1.0), reads=db)
    principals = await asyncio.gather(*(authenticator.authenticate(tenant.portal_key) for _ in range(20)))
    assert {p.scope for p in principals} == {"portal"}
    assert len(queries) == 1
    authenticator.forget()
    await authenticator.authenticate(tenant.portal_key)
    assert len(queries) == 2


class _CountingSessions:
    """A session factory that counts the sessions opened (one per key lookup)."""

    def __init__(self, db: async_sessionmaker[AsyncSession]) -> None:
        self.db = db
        self.opened = 0

    def __call__(self) -> AsyncSession:
        self.opened += 1
        return self.db()


async def test_expired_entries_are_refreshed_in_the_background(
    db: async_sessionmaker[AsyncSession], tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the cache's lifetime, requests keep their answer at once while one lookup refreshes it;
    a revocation found by that lookup applies from then on."""
    monkeypatch.setattr(auth, "CACHE_TTL_S", -1.0)  # every cached answer is already expired
    sessions = _CountingSessions(db)
    authenticator = Authenticator(sessions, RateLimiter(1000, 1.0), reads=sessions)  # type: ignore[arg-type]
    await authenticator.authenticate(tenant.portal_key)
    principals = await asyncio.gather(*(authenticator.authenticate(tenant.portal_key) for _ in range(20)))
    assert len(principals) == 20
    await asyncio.sleep(0.2)
    assert sessions.opened == 2  # the first lookup, and one refresh for the twenty
    async with db() as session, session.begin():
        key = (await session.exec(select(ApiKey).where(ApiKey.scope == "portal"))).one()
        key.revoked_at = key.created_at
        session.add(key)
    await authenticator.authenticate(
        tenant.portal_key
    )  # still the cached answer; its refresh sees the revocation
    await asyncio.sleep(0.2)
    with pytest.raises(Unauthorized):
        await authenticator.authenticate(tenant.portal_key)
