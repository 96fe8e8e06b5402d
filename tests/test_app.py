"""The application's startup: what it leaves behind for the process to run on."""

import gc

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

pytestmark = pytest.mark.anyio


async def test_startup_heap_is_left_out_of_later_collections(app: Litestar) -> None:
    """Once started, what startup built is frozen: full collections no longer walk it."""
    gc.unfreeze()
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        assert (await client.get("/healthz")).status_code == 200
        assert gc.get_freeze_count() > 10_000
