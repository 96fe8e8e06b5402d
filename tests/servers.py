"""Real HTTP servers on 127.0.0.1 for tests: the SDK, the sandbox's webhooks and receivers need sockets."""

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.app import create_app
from gateway.sandbox.first_run import SandboxWorkspace, make_sandbox_workspace
from gateway.settings import Settings
from gateway.vault import Vault
from tests.support import Database, make_settings

#: The gateway's callback retries in tests: three more attempts within a second.
FAST_RETRIES = (0.1, 0.2, 0.4)


@contextmanager
def serving(app: Any, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve an ASGI app on a free port in a background thread; yields its base URL."""
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="auto")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{host}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            msg = "test server did not start"
            raise RuntimeError(msg)
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class FirstRun:
    """A gateway as the first ``make run`` leaves it: its URL and what it made (keys, customers)."""

    url: str
    made: SandboxWorkspace


def first_run_settings(tmp_path: Path, database: Database) -> Settings:
    """Settings of a development gateway on a port of its own that delivers callbacks, retrying fast."""
    return make_settings(
        tmp_path,
        database,
        public_url=f"http://127.0.0.1:{free_port()}",
        worker="embedded",
        retry_schedule=FAST_RETRIES,
    )


@asynccontextmanager
async def serving_first_run(
    settings: Settings, db: async_sessionmaker[AsyncSession], vault: Vault
) -> AsyncIterator[FirstRun]:
    """A development gateway after its first start (sandbox workspace, seed, keys), on a real port.

    ``settings.public_url`` must name the port to serve on: the sandbox's URLs are built on it.
    """
    async with db() as session, session.begin():
        made = await make_sandbox_workspace(session, vault, settings)
    assert made is not None
    with serving(create_app(settings), port=int(settings.public_url.rsplit(":", 1)[1])) as url:
        yield FirstRun(url, made)
