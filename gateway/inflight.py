"""Loads in flight by key: callers asking for a key that is already loading share its one task."""

import asyncio
from collections.abc import Callable, Coroutine
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


def _retrieved(task: "asyncio.Task[Any]") -> None:
    # A load nobody awaits any more may fail (its owner logs what matters); never "exception was
    # never retrieved".
    if not task.cancelled():
        task.exception()
