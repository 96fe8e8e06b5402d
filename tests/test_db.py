"""Engines, real transactions on SQLite, and migrations that agree with the models."""

import sqlite3
import threading
from pathlib import Path

import anyio.to_thread
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.db import (
    alembic_config,
    current_revisions,
    make_engine,
    make_postgres_writer_engine,
    make_read_session_factory,
    make_session_factory,
    make_sqlite_writer_engine,
    migration_heads,
    upgrade_database,
)
from gateway.models import ApiKey, Workspace
from gateway.settings import Settings
from tests.support import Database, make_settings

pytestmark = pytest.mark.anyio


async def test_migrations_build_what_the_models_describe(tmp_path: Path, database: Database) -> None:
    """upgrade head on an empty database, then `alembic check` finds nothing to generate."""
    settings = make_settings(tmp_path, database)
    await anyio.to_thread.run_sync(upgrade_database, settings)
    await anyio.to_thread.run_sync(command.check, alembic_config(settings))
    engine = make_engine(settings)
    try:
        assert await current_revisions(engine) == migration_heads()
    finally:
        await engine.dispose()


async def test_migrations_downgrade_and_upgrade_again(tmp_path: Path, database: Database) -> None:
    """Every migration can be undone and redone."""
    settings = make_settings(tmp_path, database)
    config = alembic_config(settings)
    await anyio.to_thread.run_sync(upgrade_database, settings)
    await anyio.to_thread.run_sync(command.downgrade, config, "base")
    await anyio.to_thread.run_sync(upgrade_database, settings)
    engine = make_engine(settings)
    try:
        assert await current_revisions(engine) == migration_heads()
    finally:
        await engine.dispose()


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    """SQLite runs in WAL mode with foreign keys on and a busy timeout."""
    engine = make_engine(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db", secret_key="k"))
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 15000
    finally:
        await engine.dispose()


def test_connections_opening_at_once_on_a_new_file_all_get_wal(tmp_path: Path) -> None:
    """The first switch to WAL can be refused at once while others open; every connection still opens."""
    for attempt in range(40):
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/{attempt}.db", secret_key="k")
        engines = [make_sqlite_writer_engine(settings) for _ in range(4)]
        modes: list[str] = []

        def connect(engine: Engine, modes: list[str] = modes) -> None:
            with engine.connect() as conn:
                modes.append(conn.exec_driver_sql("PRAGMA journal_mode").scalar_one())

        threads = [threading.Thread(target=connect, args=(engine,)) for engine in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for engine in engines:
            engine.dispose()
        assert modes == ["wal"] * 4


async def test_savepoints_really_roll_back(db: async_sessionmaker[AsyncSession]) -> None:
    """A failed nested transaction undoes only its own work (SQLite included, thanks to the BEGIN fix)."""
    async with db() as session, session.begin():
        session.add(Workspace(id="ws_1", name="kept", stripe_key_enc="x"))
        await session.flush()
        nested = await session.begin_nested()
        session.add(Workspace(id="ws_2", name="kept", stripe_key_enc="y"))  # duplicate name
        with pytest.raises(IntegrityError):
            await session.flush()
        await nested.rollback()
        session.add(Workspace(id="ws_3", name="also-kept", stripe_key_enc="z"))
    async with db() as session:
        names = sorted(w.name for w in (await session.exec(select(Workspace))).all())
    assert names == ["also-kept", "kept"]


async def test_foreign_keys_are_enforced(db: async_sessionmaker[AsyncSession]) -> None:
    """A key pointing at no workspace is refused by the database itself."""
    with pytest.raises(IntegrityError):
        async with db() as session, session.begin():
            session.add(
                ApiKey(id="key_1", workspace_id="ws_missing", scope="admin", prefix="p", key_hash="h")
            )


def test_session_factory_keeps_attributes_after_commit(tmp_path: Path) -> None:
    """expire_on_commit is off, so reading a committed row never does lazy IO."""
    engine = make_engine(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db", secret_key="k"))
    assert make_session_factory(engine).kw["expire_on_commit"] is False


def test_migration_heads_are_alembics(tmp_path: Path) -> None:
    """The heads read from the migration files' text are the ones alembic's script directory gives."""
    config = alembic_config(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db", secret_key="k"))
    assert migration_heads() == set(ScriptDirectory.from_config(config).get_heads())


async def test_reading_sessions_leave_the_write_lock_free(tmp_path: Path) -> None:
    """A cache's read, mid-transaction, does not hold up a writer; an ordinary session does."""
    path = tmp_path / "x.db"
    engine = make_engine(Settings(database_url=f"sqlite+aiosqlite:///{path}", secret_key="k"))

    def write_within(seconds: float) -> bool:
        conn = sqlite3.connect(path, timeout=seconds, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return False
        finally:
            conn.close()
        return True

    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        async with make_read_session_factory(engine)() as reading:
            await reading.exec(text("SELECT count(*) FROM t"))  # type: ignore[call-overload]
            assert await anyio.to_thread.run_sync(write_within, 0.2)
        async with make_session_factory(engine)() as ordinary:
            await ordinary.exec(text("SELECT count(*) FROM t"))  # type: ignore[call-overload]
            assert not await anyio.to_thread.run_sync(write_within, 0.2)
    finally:
        await engine.dispose()


async def test_the_postgres_writer_plans_each_statement_for_its_parameters(
    postgres_url: str, tmp_path: Path
) -> None:
    """Its prepared statements never keep a plan made while a table was nearly empty."""
    engine = make_postgres_writer_engine(make_settings(tmp_path, Database(url=postgres_url)))
    try:
        async with engine.connect() as connection:
            shown = await connection.execute(text("SHOW plan_cache_mode"))
            assert shown.scalar_one() == "force_custom_plan"
    finally:
        await engine.dispose()
