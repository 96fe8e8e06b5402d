"""Synchronous database work in one transaction, kept off the event loop's back.

The async stack (SQLAlchemy's greenlet bridge, aiosqlite's thread hop per statement) costs about
100 µs of CPU per statement here, more than the statement itself. Batch work that issues several
statements therefore runs as one plain function over a synchronous ``Connection``:

* SQLite: on a dedicated writer thread with its own pysqlite connection (one hop per batch; SQLite
  runs one writer at a time anyway, and ``BEGIN IMMEDIATE`` orders it with every other writer);
* PostgreSQL: through ``AsyncConnection.run_sync`` on asyncpg (the server does the work).
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.db import make_sqlite_writer_engine
from gateway.settings import Settings

R = TypeVar("R")


class Writer:
    """Runs ``work(connection)`` in a transaction of its own: committed on return, rolled back on error."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sqlite = make_sqlite_writer_engine(settings) if settings.is_sqlite else None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer") if self._sqlite else None

    async def run(self, work: Callable[[Connection], R]) -> R:
        """``work``'s result, after its transaction committed."""
        if self._thread is not None:
            return await asyncio.get_running_loop().run_in_executor(self._thread, self._in_transaction, work)
        async with self._engine.begin() as connection:
            return await connection.run_sync(work)

    def _in_transaction(self, work: Callable[[Connection], R]) -> R:
        assert self._sqlite is not None  # noqa: S101  (only called on SQLite)
        with self._sqlite.begin() as connection:
            return work(connection)

    async def close(self) -> None:
        """Finish the work in flight and close the writer's own connection."""
        if self._thread is not None and self._sqlite is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._sqlite.dispose)
            self._thread.shutdown(wait=True)
