"""Loads in flight: concurrent callers share one load; a finished or dropped load is started anew."""

import asyncio

import pytest

from gateway.inflight import InFlight

pytestmark = pytest.mark.anyio


async def test_concurrent_callers_share_one_load_and_a_finished_one_starts_again() -> None:
    """Fifty callers of one key while it loads cause one load; after it ends, the next caller loads again."""
    loads: list[str] = []
    flight: InFlight[str, str] = InFlight()
    gate = asyncio.Event()

    async def load() -> str:
        loads.append("ws_1")
        try:
            await gate.wait()
            return f"loaded {len(loads)}"
        finally:
            flight.finish("ws_1")

    waiting = [asyncio.ensure_future(flight.start("ws_1", load)) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    assert set(await asyncio.gather(*waiting)) == {"loaded 1"}
    assert await flight.start("ws_1", load) == "loaded 2"
    assert loads == ["ws_1", "ws_1"]


async def test_a_dropped_load_is_not_shared_with_later_callers() -> None:
    """After ``drop`` a caller starts its own load even while the old one is still running."""
    flight: InFlight[str, int] = InFlight()
    gate = asyncio.Event()
    started: list[int] = []

    async def load() -> int:
        started.append(len(started) + 1)
        number = len(started)
        await gate.wait()
        return number

    first = flight.start("ws_1", load)
    await asyncio.sleep(0)
    flight.drop("ws_1")
    second = flight.start("ws_1", load)
    gate.set()
    assert (await first, await second) == (1, 2)
