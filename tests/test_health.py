"""/healthz and /readyz, without a key."""

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

pytestmark = pytest.mark.anyio


async def test_healthz(client: AsyncTestClient[Litestar]) -> None:
    """Liveness answers 200 with no key."""
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["ok"] is True


async def test_readyz_when_current(client: AsyncTestClient[Litestar]) -> None:
    """Readiness is 200 when the database answers and is migrated."""
    response = await client.get("/readyz")
    assert response.json() == {"ok": True, "database": "ok", "migrations": "current"}


async def test_readyz_when_behind(
    client: AsyncTestClient[Litestar], db: async_sessionmaker[AsyncSession]
) -> None:
    """Readiness is 503 when the database is not at the newest migration."""
    async with db() as session, session.begin():
        await session.exec(text("UPDATE alembic_version SET version_num = 'old'"))  # type: ignore[call-overload]
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["migrations"] == "behind"
