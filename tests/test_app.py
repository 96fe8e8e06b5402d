"""The application's startup: what it leaves behind for the process to run on."""

import gc
import subprocess
import sys

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


def test_a_sqlite_deployment_never_loads_asyncpg() -> None:
    """The app, the worker and the CLI import without asyncpg: only PostgreSQL deployments pay for it."""
    probe = "import sys, gateway.app, gateway.worker, gateway.cli; print('asyncpg' in sys.modules)"
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)  # noqa: S603
    assert answer.stdout.strip() == "False"
