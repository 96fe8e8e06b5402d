"""Synchronous database work in one transaction, kept off the event loop that serves requests.

The async stack costs about 100 µs of CPU per statement here, and every statement awaited on the
serving loop also waits behind the requests queued there (milliseconds under load). Batch work that
issues several statements therefore runs as one plain function over a synchronous ``Connection``, on
a thread of its own, with one hand-over per batch:

* SQLite: a pysqlite connection on a writer thread (SQLite runs one write at a time anyway, and
  ``BEGIN IMMEDIATE`` orders it with every other writer);
* PostgreSQL: asyncpg on an event loop of the writer thread's own, through ``run_sync``, so the
  round trips of a batch never queue behind requests. Two batches at a time (:attr:`Writer.concurrency`):
  while one waits on the server, the next is started instead of waiting its turn (measured back to
  back under ``wrk``: 1,025 events/s with one, 1,614 with two). Two batches that write the same new
  row (a Stripe event sent twice at once) collide on its unique index; the later one fails and its
  events are applied again one by one, after the first has committed.
"""

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Connection

from gateway.db import make_postgres_writer_engine, make_sqlite_writer_engine
from gateway.settings import Settings

R = TypeVar("R")


class Writer:
    """Runs ``work(connection)`` in a transaction of its own: committed on return, rolled back on error."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        #: Transactions it runs at once (SQLite writes one at a time whatever we do).
        self.concurrency = 1 if settings.is_sqlite else 2
        if settings.is_sqlite:
            self._sqlite = make_sqlite_writer_engine(settings)
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        else:
            self._loop = asyncio.new_event_loop()
            self._engine = make_postgres_writer_engine(settings)  # used on the writer's loop only
            self._loop_thread = threading.Thread(target=self._loop.run_forever, name="db-writer", daemon=True)
            self._loop_thread.start()

    async def run(self, work: Callable[[Connection], R]) -> R:
        """``work``'s result, after its transaction committed."""
        if self._settings.is_sqlite:
            return await asyncio.get_running_loop().run_in_executor(self._thread, self._in_transaction, work)
        return await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(self._on_writer_loop(work), self._loop)
        )

    def _in_transaction(self, work: Callable[[Connection], R]) -> R:
        with self._sqlite.begin() as connection:
            return work(connection)

    async def _on_writer_loop(self, work: Callable[[Connection], R]) -> R:
        async with self._engine.begin() as connection:
            return await connection.run_sync(work)

    async def close(self) -> None:
        """Finish the work in flight and close the writer's own connections and thread."""
        if self._settings.is_sqlite:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._sqlite.dispose)
            self._thread.shutdown(wait=True)
            return
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._engine.dispose(), self._loop))
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._loop_thread.join)
        self._loop.close()
