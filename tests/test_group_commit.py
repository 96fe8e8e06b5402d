"""Group commit: items applied in batches, up to the writer's ``concurrency`` batches at once."""

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, cast

import pytest

from gateway.group_commit import GroupCommitter
from gateway.writer import Writer

pytestmark = pytest.mark.anyio


class GatedWriter:
    """Holds each transaction until the test opens its gate; remembers how many ran at once."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.gates: list[asyncio.Event] = []
        self.running = 0
        self.most = 0

    async def run(self, work: Callable[[Any], Any]) -> Any:
        gate = asyncio.Event()
        self.gates.append(gate)
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await gate.wait()
            return work(None)
        finally:
            self.running -= 1


def _double(_connection: Any, items: Sequence[int]) -> list[int]:
    return [item * 2 for item in items]


async def _started(writer: GatedWriter, count: int) -> None:
    """Wait until ``count`` transactions have begun."""
    for _ in range(200):
        if len(writer.gates) >= count:
            return
        await asyncio.sleep(0)
    pytest.fail(f"{len(writer.gates)} transactions began, {count} expected")


async def _two_batches(
    writer: GatedWriter,
) -> tuple[GroupCommitter[int, int], asyncio.Future[int], asyncio.Future[int]]:
    """A committer given 1, then 2 once 1's batch has begun (both begun when the writer allows two)."""
    committer: GroupCommitter[int, int] = GroupCommitter(cast("Writer", writer), _double)
    committer.start()
    first = asyncio.ensure_future(committer.submit(1))
    await _started(writer, 1)
    second = asyncio.ensure_future(committer.submit(2))
    await _started(writer, writer.concurrency)
    return committer, first, second


async def test_a_second_batch_commits_while_the_first_still_waits() -> None:
    """With two at once, a batch is not held up by a slow one before it."""
    writer = GatedWriter(concurrency=2)
    committer, first, second = await _two_batches(writer)
    writer.gates[1].set()
    assert await second == 4
    assert not first.done()
    writer.gates[0].set()
    assert await first == 2
    await committer.stop()
    assert writer.most == 2


async def test_one_at_a_time_when_the_writer_says_so() -> None:
    """SQLite's writer takes one transaction at a time: the next batch starts after it."""
    writer = GatedWriter(concurrency=1)
    committer, first, second = await _two_batches(writer)
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(writer.gates) == 1
    writer.gates[0].set()
    await _started(writer, 2)
    writer.gates[1].set()
    assert (await first, await second) == (2, 4)
    await committer.stop()
    assert writer.most == 1


async def test_stop_finishes_every_batch_under_way() -> None:
    """Nothing submitted is dropped by a stop: both batches in flight finish first."""
    writer = GatedWriter(concurrency=2)
    committer, first, second = await _two_batches(writer)
    stopping = asyncio.ensure_future(committer.stop())
    await asyncio.sleep(0)
    assert not stopping.done()
    for gate in writer.gates:
        gate.set()
    await stopping
    assert (await first, await second) == (2, 4)
