"""Loads in flight: concurrent callers share one load; loads asked for together are one read."""

import asyncio

import pytest

from gateway.inflight import Batched, InFlight

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


async def test_loads_asked_for_together_are_one_read_and_a_failed_read_fails_each_of_them() -> None:
    """Keys asked for in one turn of the loop make one read; its failure reaches every caller, once."""
    reads: list[list[str]] = []
    failing = {"now": True}

    async def read(keys: list[str]) -> dict[str, str]:
        reads.append(keys)
        if failing["now"]:
            msg = "database unavailable"
            raise ConnectionError(msg)
        return {key: key.upper() for key in keys if key != "gone"}

    batched: Batched[str, str] = Batched(read)
    outcomes = await asyncio.gather(*(batched.load(key) for key in ("a", "b", "a")), return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [ConnectionError] * 3
    failing["now"] = False
    assert await asyncio.gather(*(batched.load(key) for key in ("a", "b", "gone"))) == ["A", "B", None]
    assert reads == [["a", "b"], ["a", "b", "gone"]]
