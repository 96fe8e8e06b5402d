"""Test helpers shared by fixtures and tests: databases, tenants, settings, error assertions."""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

import gateway.models  # noqa: F401  (registers the tables)
from gateway.cli import main
from gateway.db import make_engine, migration_heads
from gateway.keys import create_key
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.workspaces import create_workspace

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
TEST_SECRET_KEY = "test-secret-key-" + "x" * 32


async def postgres_unreachable(url: str) -> str:
    """ "" when PostgreSQL at ``url`` answers, else why not."""
    parsed = make_url(url)
    try:
        conn = await asyncpg.connect(
            host=parsed.host,
            port=parsed.port or 5432,
            user=parsed.username,
            database=parsed.database,
            timeout=3,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL not reachable at {parsed.host}:{parsed.port}: {exc}"
    await conn.close()
    return ""


async def require_postgres(url: str) -> None:
    """Skip (or, in CI, fail) when PostgreSQL at ``url`` does not answer."""
    reason = await postgres_unreachable(url)
    if reason:
        if os.environ.get("GATEWAY_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


async def _run_on_postgres(url: str, statement: str) -> None:
    parsed = make_url(url)
    conn = await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username, database=parsed.database
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@dataclass
class Database:
    """Where a test's database lives: a URL and, on PostgreSQL, a schema of its own."""

    url: str
    schema: str = ""

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgresql")


async def fresh_schema(url: str) -> str:
    """A new, empty PostgreSQL schema (dropped by the caller)."""
    schema = "t_" + secrets.token_hex(6)
    await _run_on_postgres(url, f"CREATE SCHEMA {schema}")
    return schema


async def drop_schema(url: str, schema: str) -> None:
    """Drop a test schema and everything in it."""
    await _run_on_postgres(url, f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def make_settings(tmp_path: Path, database: Database, **overrides: object) -> Settings:
    """Settings for a test: its own database and data folder, private callbacks allowed, no worker."""
    values: dict[str, object] = {
        "env": "development",
        "database_url": database.url,
        "database_schema": database.schema,
        "secret_key": TEST_SECRET_KEY,
        "data_dir": tmp_path / "data",
        "public_url": "http://testserver.local",
        "allow_private_callbacks": True,
        "worker": "off",
        "rate_limit": (1000, 1.0),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def create_schema(settings: Settings) -> None:
    """Create every table and mark the database as migrated (faster than running the migrations)."""
    engine = make_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)
            await conn.execute(
                text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
            )
            for head in migration_heads(settings):
                await conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head})
    finally:
        await engine.dispose()


@dataclass
class Tenant:
    """A workspace made for a test, with one key of each scope."""

    workspace_id: str
    name: str
    admin_key: str
    portal_key: str

    def headers(self, scope: str = "admin") -> dict[str, str]:
        key = self.admin_key if scope == "admin" else self.portal_key
        return {"Authorization": f"Bearer {key}"}


async def make_tenant(
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
    settings: Settings,
    name: str,
    *,
    stripe_key: str = "sk_test_123456789",
    api_base: str = "",
    sandbox: bool = False,
) -> Tenant:
    """A workspace with an admin and a portal key (on ``api_base`` when given: a sandbox)."""
    async with db() as session, session.begin():
        workspace, admin_key = await create_workspace(
            session, vault, settings, name=name, stripe_key=stripe_key, api_base=api_base, sandbox=sandbox
        )
        _, portal_key = await create_key(session, workspace=workspace, scope="portal", name="portal")
    return Tenant(workspace_id=workspace.id, name=name, admin_key=admin_key, portal_key=portal_key)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is the contract's JSON error with this status and code; its body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["ok"] is False
    assert body["error_code"] == code
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["error_message"]
    return body


def run_cli(env: dict[str, str], *args: str) -> Result:
    """``gateway ARGS...`` in-process with exactly ``env`` as its environment."""
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
