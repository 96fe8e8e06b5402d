"""A database made briefly unavailable to the gateway's processes, without disturbing other tests.

PostgreSQL is shared by every test running in parallel, so it is not restarted here: the gateway reaches
it through :class:`TcpProxy`, which can drop every connection and refuse new ones for a while (a
restart, as the gateway sees it). ``make soak`` runs alone and restarts the real server instead. SQLite
is made unavailable by another connection holding its write lock.
"""

import asyncio
import contextlib
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

#: How to pump bytes between the two sides of a proxied connection.
CHUNK = 65536


class TcpProxy:
    """Forwards connections from a port of 127.0.0.1 to ``host:port`` until cut."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.refusing = False
        self.port = 0

    async def start(self) -> None:
        """Listen on a free port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def cut(self) -> None:
        """Drop every open connection at once (no goodbye, as when the server dies)."""
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def outage(self, seconds: float) -> None:
        """Drop every connection and refuse new ones for ``seconds``."""
        self.refusing = True
        self.cut()
        try:
            await asyncio.sleep(seconds)
        finally:
            self.refusing = False

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            client_writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            client_writer.transport.abort()
            return
        self._open.update((client_writer, upstream_writer))
        for reader, writer in ((client_reader, upstream_writer), (upstream_reader, client_writer)):
            task = asyncio.create_task(self._pump(reader, writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
        self._open.discard(writer)
        writer.transport.abort()  # one side gone: so is the other, as with a real connection


def proxied_url(url: str, proxy: TcpProxy) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


async def lock_sqlite(path: Path, seconds: float) -> None:
    """Hold SQLite's write lock on ``path`` for ``seconds`` (from a thread: taking it may wait)."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        await asyncio.to_thread(conn.execute, "BEGIN EXCLUSIVE")
        await asyncio.sleep(seconds)
        conn.execute("ROLLBACK")
    finally:
        conn.close()


async def restart_postgres(seconds: float) -> None:
    """Stop the machine's PostgreSQL cluster for ``seconds``, then start it (``make soak`` only)."""
    version = await asyncio.to_thread(lambda: next(Path("/etc/postgresql").iterdir()).name)
    for action in ("stop", "start"):
        await asyncio.to_thread(
            subprocess.run,
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
            check=True,
        )
        if action == "stop":
            await asyncio.sleep(seconds)
