"""Group commit: many concurrent requests, one transaction, each answered only after it commits.

A durable write per request costs a transaction per request; under load most of that is the commit
and the round trips around it, not the rows. Requests hand their items to one writer task, which
applies whatever has queued up in a single transaction and then answers each request. At low load a
batch is one item and nothing waits; under load batches grow by themselves.

A batch that fails is retried item by item, each in its own transaction, so one bad item fails alone
(after a second try) and its batch-mates still commit. Up to the writer's ``concurrency`` batches are
written at once: the next batch starts while the previous one waits on the database.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy import Connection

from gateway.errors import Unavailable
from gateway.writer import Writer

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: ``apply(connection, items)`` does the work of ``items`` in the connection's transaction; one result each.
Apply = Callable[[Connection, Sequence[T]], Sequence[R]]

MAX_BATCH = 500
#: Turns of the event loop a writer waits at most for more items before it starts a batch.
GATHER_ROUNDS = 4
#: Items waiting beyond this are refused at once (the sender retries) rather than held in memory.
MAX_WAITING = 20_000


class GroupCommitter(Generic[T, R]):
    """Applies submitted items in batches, one transaction per batch, by a single writer task."""

    def __init__(
        self,
        writer: Writer,
        apply: Apply[T, R],
        *,
        max_batch: int = MAX_BATCH,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        self._writer = writer
        self._apply = apply
        self._max_batch = max_batch
        self._slots = asyncio.Semaphore(writer.concurrency)
        self._committing: set[asyncio.Task[None]] = set()  # held here: the loop keeps only weak refs
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] = asyncio.Queue(max_waiting)
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """``item``'s result, once the transaction that applied it has committed."""
        if self._task is None:
            msg = "The gateway is starting or stopping; retry shortly."
            raise Unavailable(msg)
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait((item, future))
        except asyncio.QueueFull:
            msg = "Too many events are waiting to be written; retry shortly."
            raise Unavailable(msg) from None
        # A sender hanging up cancels only its wait: the batch is written all the same.
        return await future

    def start(self) -> None:
        """Start the writer task."""
        self._task = asyncio.create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        """Finish everything already submitted, then stop the writer."""
        task, self._task = self._task, None
        if task is None:
            return
        await self._queue.join()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while True:
            await self._slots.acquire()
            batch = [await self._queue.get()]
            await self._gather()
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            task = asyncio.create_task(self._commit_and_release(batch))
            self._committing.add(task)
            task.add_done_callback(self._committing.discard)

    async def _commit_and_release(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            await self._commit(batch)
        finally:
            self._slots.release()
            for _ in batch:
                self._queue.task_done()

    async def _gather(self) -> None:
        """Let requests already being read join the batch: yield to the loop while they keep arriving.

        A batch's fixed cost (the transaction, a statement per table) is shared by more events; at low
        load nothing arrives and this costs one turn of the loop.
        """
        for _ in range(GATHER_ROUNDS):
            waiting = self._queue.qsize()
            await asyncio.sleep(0)
            if self._queue.qsize() == waiting:
                return

    async def _commit(self, batch: list[tuple[T, asyncio.Future[R]]], *, alone: bool = False) -> None:
        try:
            results = await self._transaction([item for item, _ in batch])
        except Exception as exc:
            if alone:
                _settle(batch[0][1], exc=exc)
                return
            # A batch of one is tried again too: beside another batch, it may have met that batch's
            # new row on a unique index, and now sees the row committed.
            if len(batch) > 1:
                logger.warning("a batch of %d failed; applying its items alone", len(batch), exc_info=exc)
            for entry in batch:
                await self._commit([entry], alone=True)
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)

    async def _transaction(self, items: list[T]) -> Sequence[R]:
        return await self._writer.run(lambda connection: self._apply(connection, items))


def _settle(future: asyncio.Future[R], *, result: R | None = None, exc: BaseException | None = None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)  # type: ignore[arg-type]
