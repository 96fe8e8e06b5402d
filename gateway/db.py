"""Database engines (SQLite by default, PostgreSQL to scale out), sessions and migrations.

Alembic (about 11 MB once imported) is loaded only to migrate: the server learns the newest revision
from the migration files' text and reads the database's with plain SQL.
"""

import multiprocessing
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: ``revision: str = "..."`` and ``down_revision: str | None = "..."`` in a migration file.
_REVISION = re.compile(r'^(down_)?revision\b[^=]*=\s*(?:"([0-9a-z_]+)"|None)', re.MULTILINE)
SQLITE_BUSY_TIMEOUT_S = 15
#: Execution option of read-only connections (``make_read_session_factory``).
READ_ONLY = "gateway_read_only"


def make_engine(settings: Settings) -> AsyncEngine:
    """An async engine for ``GATEWAY_DATABASE_URL``, configured for its dialect."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        _configure_sqlite(engine.sync_engine)
        return engine
    return _postgres_engine(settings, pre_ping=True)


def make_postgres_writer_engine(settings: Settings) -> AsyncEngine:
    """An engine for the ingest's batch transactions on PostgreSQL, tuned for them.

    * No ping as a connection leaves the pool: it costs three round trips a batch, more than a
      dropped connection ever does (the batch fails, the pool is refilled and each event is tried
      again on a new connection, or answered 503 for Stripe to send again).
    * Every statement planned for its own parameters (``plan_cache_mode``): asyncpg prepares each
      statement once per connection, and a generic plan made while a table was nearly empty kept
      scanning it whole as it grew (a lookup of 50 pairs took 5-60 ms instead of 0.3).
    """
    return _postgres_engine(settings, pre_ping=False, plan_cache_mode="force_custom_plan")


def _postgres_engine(settings: Settings, *, pre_ping: bool, **server_settings: str) -> AsyncEngine:
    if settings.database_schema:
        server_settings["search_path"] = settings.database_schema
    connect_args = {"server_settings": server_settings} if server_settings else {}
    url = make_url(settings.database_url)
    return create_async_engine(url, pool_pre_ping=pre_ping, pool_size=10, connect_args=connect_args)


def make_sqlite_writer_engine(settings: Settings) -> Engine:
    """A synchronous (pysqlite) engine on the same SQLite file, for work done on a writer thread."""
    url = make_url(settings.database_url).set(drivername="sqlite")
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite defers BEGIN until the first write and so breaks SAVEPOINT and transactional DDL;
    # take BEGIN over ourselves (SQLAlchemy docs, "Serializable isolation / Savepoints (asyncio)").
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        # WAL (readers never block the writer) is stored in the file: switching needs an exclusive
        # lock that SQLite may refuse at once, busy timeout or not, while another connection opens.
        cursor.execute("PRAGMA journal_mode")
        if cursor.fetchone()[0] != "wal":
            _switch_to_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")  # off by default, per connection
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes with WAL
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            # A snapshot without the write lock: WAL readers never block the writer (reads taking
            # it stalled ingest behind every cache reload: p99 0.6 s with 100 workspaces).
            conn.exec_driver_sql("BEGIN")
            return
        # IMMEDIATE takes the write lock up front: a read-then-write transaction can otherwise
        # fail with SQLITE_BUSY when another writer commits in between, busy timeout or not.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _switch_to_wal(cursor: Any) -> None:
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
        else:
            return


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (no lazy IO in async code)."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def make_read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that only read (the caches' loads): on SQLite they never hold the write lock."""
    return make_session_factory(engine.execution_options(**{READ_ONLY: True}))


async def open_session(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A request-scoped session: committed when the handler succeeds, rolled back otherwise."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except Exception:
            await session.rollback()
            raise


def alembic_config(settings: Settings) -> "Config":
    """Alembic's configuration for this gateway's migrations and database."""
    from alembic.config import Config  # noqa: PLC0415  (only migrations need alembic)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["settings"] = settings
    return config


def upgrade_database(settings: Settings) -> None:
    """Apply every migration (``alembic upgrade head``); safe to run on every start."""
    from alembic import command  # noqa: PLC0415  (only migrations need alembic)

    command.upgrade(alembic_config(settings), "head")


def upgrade_in_child(settings: Settings) -> None:
    """``upgrade_database`` in a forked child, so alembic's modules never load in this process.

    Forked (not spawned): the child starts from this process's imports at no cost. Call it before
    any thread or event loop exists.
    """
    child = multiprocessing.get_context("fork").Process(
        target=upgrade_database, args=(settings,), name="gateway-migrate"
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        msg = f"database migration failed (exit code {child.exitcode}); see the error above"
        raise RuntimeError(msg)


def migration_heads() -> set[str]:
    """The newest migration revision(s) this code knows: revisions no other migration builds on."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for down, revision in _REVISION.findall(path.read_text(encoding="utf-8")):
            (parents if down else revisions).add(revision)
    return revisions - parents


async def current_revisions(engine: AsyncEngine) -> set[str]:
    """The migration revision(s) the database is at (alembic's own table, read with plain SQL)."""
    async with engine.connect() as conn:
        return {row[0] for row in await conn.execute(text("SELECT version_num FROM alembic_version"))}
