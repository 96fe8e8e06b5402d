"""Fixtures: a fresh database (SQLite file, or a fresh PostgreSQL schema) and a fresh app per test.

``GATEWAY_TEST_DATABASE_URL=postgresql+asyncpg://...`` runs every test on PostgreSQL, each in its
own schema. PostgreSQL-only tests take ``postgres_url``; they skip without a server unless
``GATEWAY_TEST_REQUIRE_POSTGRES=1`` (CI), which turns a missing server into a failure.
"""

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.app import create_app
from gateway.db import make_engine, make_session_factory
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.writer import Writer
from tests.sandbox import SandboxServer, serve_sandbox
from tests.support import (
    DEFAULT_POSTGRES_URL,
    TEST_SECRET_KEY,
    Database,
    Tenant,
    create_schema,
    drop_schema,
    fresh_schema,
    make_settings,
    make_tenant,
    require_postgres,
    run_cli,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def postgres_url() -> str:
    """A PostgreSQL URL for PostgreSQL-only tests (skipped without a server unless required)."""
    url = os.environ.get("GATEWAY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    await require_postgres(url)
    return url


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh, empty database: SQLite under ``tmp_path``, or a new schema on PostgreSQL."""
    url = os.environ.get("GATEWAY_TEST_DATABASE_URL", "")
    if not url:
        yield Database(url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
        return
    await require_postgres(url)
    schema = await fresh_schema(url)
    try:
        yield Database(url=url, schema=schema)
    finally:
        await drop_schema(url, schema)


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return make_settings(tmp_path, database)


@pytest.fixture
async def writer(settings: Settings, db: async_sessionmaker[AsyncSession]) -> AsyncIterator[Writer]:
    """The ingest's batch writer on the test's migrated database."""
    writer = Writer(settings)
    yield writer
    await writer.close()


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the test's database, in the test's own event loop (the app runs in another)."""
    await create_schema(settings)
    engine = make_engine(settings)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def vault(settings: Settings) -> Vault:
    return Vault(settings.secret_keys())


@pytest.fixture
async def tenant(db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings) -> Tenant:
    return await make_tenant(db, vault, settings, "acme")


@pytest.fixture
def app(settings: Settings, db: async_sessionmaker[AsyncSession]) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        yield client


@pytest.fixture
async def other_tenant(db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings) -> Tenant:
    return await make_tenant(db, vault, settings, "globex")


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """The Stripe sandbox alone on a real port: ``api_base``, ``secret_key``, ``client``, ``seed()``,
    ``faults``, ``listen(url)``, ``wait_for(...)``, ``renew(...)`` (see ``tests/sandbox.py``)."""
    with serve_sandbox() as server:
        yield server


@pytest.fixture
async def sandbox_tenant(
    db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings, sandbox: SandboxServer
) -> Tenant:
    """A workspace (like ``tenant``) whose Stripe is ``sandbox``: its key and ``stripe_api_base``."""
    return await make_tenant(
        db,
        vault,
        settings,
        "sandboxed",
        stripe_key=sandbox.secret_key,
        api_base=sandbox.api_base,
        sandbox=True,
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """``GATEWAY_*`` variables for a migrated, empty database of the test's own (for ``run_cli``)."""
    url = os.environ.get("GATEWAY_TEST_DATABASE_URL", "")
    env = {
        "GATEWAY_DATABASE_URL": url or f"sqlite+aiosqlite:///{tmp_path}/cli.db",
        "GATEWAY_SECRET_KEY": TEST_SECRET_KEY,
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_PUBLIC_URL": "https://gw.example",
        "GATEWAY_DATABASE_SCHEMA": asyncio.run(fresh_schema(url)) if url else "",
    }
    assert run_cli(env, "migrate").exit_code == 0
    yield env
    if url:
        asyncio.run(drop_schema(url, env["GATEWAY_DATABASE_SCHEMA"]))
