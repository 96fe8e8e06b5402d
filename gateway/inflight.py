"""Reads of cached entries by key: loads in flight, and rereads gathered in the background.

Callers asking for a key that is already loading share its one task; keys asked for in the same turn
of the loop are read together; keys due for a background reread are read together, every key due in
one pass.
"""

import asyncio
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class InFlight(Generic[K, V]):
    """At most one load per key at a time (50 requests whose cache entry expired make one query)."""

    def __init__(self) -> None:
        self._tasks: dict[K, asyncio.Task[V]] = {}

    def start(self, key: K, load: Callable[[], Coroutine[Any, Any, V]]) -> "asyncio.Task[V]":
        """The load in flight for ``key``, started with ``load()`` if none is."""
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(load())
            task.add_done_callback(_retrieved)
            self._tasks[key] = task
        return task

    def finish(self, key: K) -> None:
        """Called by the load itself as it ends: the next caller starts a new one."""
        if self._tasks.get(key) is asyncio.current_task():
            del self._tasks[key]

    def drop(self, key: K) -> None:
        """Forget the load in flight for ``key`` (its result is stale): the next caller starts anew."""
        self._tasks.pop(key, None)

    def clear(self) -> None:
        """Forget every load in flight (all their results are stale)."""
        self._tasks.clear()


class Batched(Generic[K, V]):
    """Loads asked for in the same turn of the event loop, made in one ``read(keys)``.

    ``read`` answers the keys it found; a key it did not find loads as None. After a quiet spell
    every workspace's entry has expired, and the first burst of events would otherwise make a
    query for each.
    """

    def __init__(self, read: Callable[[list[K]], Coroutine[Any, Any, Mapping[K, V]]]) -> None:
        self._read = read
        self._waiting: dict[K, asyncio.Future[V | None]] = {}
        self._reading: set[asyncio.Task[Mapping[K, V]]] = set()  # held here: the loop keeps only weak refs

    async def load(self, key: K) -> V | None:
        """``key``'s value, read together with the other keys asked for meanwhile."""
        future = self._waiting.get(key)
        if future is None:
            if not self._waiting:
                asyncio.get_running_loop().call_soon(self._flush)
            future = self._waiting[key] = asyncio.get_running_loop().create_future()
        return await asyncio.shield(future)

    def _flush(self) -> None:
        waiting, self._waiting = self._waiting, {}
        task = asyncio.ensure_future(self._read(list(waiting)))
        self._reading.add(task)
        task.add_done_callback(self._reading.discard)
        task.add_done_callback(lambda done: _settle_all(done, waiting))


def _settle_all(done: "asyncio.Task[Mapping[K, V]]", waiting: dict[K, "asyncio.Future[V | None]"]) -> None:
    for key, future in waiting.items():
        if future.done():
            continue
        if done.cancelled():
            future.cancel()
        elif (exc := done.exception()) is not None:
            future.set_exception(exc)
        else:
            future.set_result(done.result().get(key))


class GatheredReads:
    """Keys to read again in the background, one pass at a time, each pass reading every key due.

    ``read(keys)`` does the reading and keeps the results (its own failures are its to log). A key
    added while its pass is out is not queued again: that pass renews it. ``joining()`` names keys
    that will fall due soon: they join any pass, so keys loaded at scattered moments come to expire
    together, and a hundred workspaces settle into a few passes per lifetime instead of one each.
    """

    def __init__(
        self,
        read: Callable[[list[str]], Coroutine[Any, Any, None]],
        *,
        joining: Callable[[], Iterable[str]] = tuple,
    ) -> None:
        self._read = read
        self._joining = joining
        self._due: set[str] = set()
        self._reading: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, key: str) -> None:
        """Read ``key`` again soon, together with every other key due by then."""
        if key in self._reading:
            return
        self._due.add(key)
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())
            self._task.add_done_callback(_retrieved)

    async def _run(self) -> None:
        await asyncio.sleep(0)  # keys falling due in this turn of the loop join the pass
        while self._due:
            keys, self._due = sorted(self._due.union(self._joining())), set()
            self._reading = set(keys)
            try:
                await self._read(keys)
            finally:
                self._reading = set()


def _retrieved(task: "asyncio.Task[Any]") -> None:
    # A load nobody awaits any more may fail (its owner logs what matters); never "exception was
    # never retrieved".
    if not task.cancelled():
        task.exception()
