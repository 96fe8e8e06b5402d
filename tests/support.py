"""Test helpers shared by fixtures and tests: databases, tenants, settings, error assertions."""

import contextlib
import functools
import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

import gateway.models  # noqa: F401  (registers the tables)
from gateway.cli import main
from gateway.db import migration_heads
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


@functools.cache
def _schema_script(dialect_name: str, heads: tuple[str, ...]) -> list[str]:
    """Every CREATE statement for the models, then the Alembic stamp, compiled once per dialect."""
    dialect = postgresql.dialect() if dialect_name == "postgresql" else sqlite.dialect()
    statements = []
    for table in SQLModel.metadata.sorted_tables:
        statements.append(str(CreateTable(table).compile(dialect=dialect)).strip())
        statements.extend(str(CreateIndex(index).compile(dialect=dialect)).strip() for index in table.indexes)
    statements.append("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    statements.extend(f"INSERT INTO alembic_version VALUES ('{head}')" for head in heads)  # noqa: S608  # noqa: S608
    return statements


async def create_schema(settings: Settings) -> None:
    """Create every table and mark the database as migrated (much faster than the migrations).

    The DDL is compiled once and sent as one script: per-table round trips (what ``create_all``
    does, with an existence check before each table) made PostgreSQL tests spend most of their
    time in set-up.
    """
    heads = _migration_heads()
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
        script = "BEGIN;\n" + ";\n".join(_schema_script("sqlite", heads)) + ";\nCOMMIT;"
        with sqlite3.connect(str(url.database)) as conn:
            conn.executescript(script)
        return
    conn = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, database=url.database
    )
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL search_path TO {settings.database_schema or 'public'}")
            await conn.execute(
                "SET LOCAL synchronous_commit TO off"
            )  # a test database need not survive a crash
            await conn.execute(";\n".join(_schema_script("postgresql", heads)))
    finally:
        await conn.close()


@functools.cache
def _migration_heads() -> tuple[str, ...]:
    return tuple(sorted(migration_heads()))


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


@contextlib.contextmanager
def statements(db: async_sessionmaker[AsyncSession], verb: str = "SELECT") -> Iterator[list[str]]:
    """The statements (``verb`` ones: SELECT, UPDATE, ...) sent on ``db``'s engine while the block runs."""
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(verb):
            sent.append(statement)

    engine = db.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", seen)
