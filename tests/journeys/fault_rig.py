"""The gateway as deployed (``gateway serve`` and ``gateway worker`` processes) and the faults done to it.

Faults are timed by the sender's progress, not the clock, so they land while events are being posted
however fast this machine is; they come one after another, as separate incidents.
"""

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from gateway.settings import Settings
from tests.journeys.outages import TcpProxy, lock_sqlite, proxied_url, restart_postgres
from tests.processes import Process, gateway_env, kill, serving_process, start, stopped
from tests.receivers import until
from tests.servers import free_port

#: Callbacks: a short timeout (the flapping receivers' slow answers outlast it), a lease just longer,
#: and retries enough to outlast every bad phase of a receiver.
DELIVERY_TIMEOUT_S = 0.5
WORKER_ENV = {
    "GATEWAY_DELIVERY_TIMEOUT": f"{DELIVERY_TIMEOUT_S}s",
    "GATEWAY_DELIVERY_LEASE": "2s",
    "GATEWAY_RETRY_SCHEDULE": ",".join(["0.3s", "0.6s", "1s", "1s", *["2s"] * 40]),
}
WORKER_CONCURRENCY = 32
OUTAGE_S = 3.0
#: (share of the copies accepted, fault): serve killed 3 times, the worker once, 2 database outages.
SCHEDULE = (
    (0.12, "kill serve"),
    (0.25, "database outage"),
    (0.38, "kill serve"),
    (0.50, "kill worker"),
    (0.62, "database outage"),
    (0.75, "kill serve"),
)


@dataclass
class Rig:
    """The two processes, restartable, and the database outage this database gets."""

    env: dict[str, str]
    logs: Path
    outage: Callable[[], Awaitable[None]]
    #: What the outage does: ``write lock``, ``proxy cut`` or ``server restart``.
    outage_kind: str
    port: int = field(default_factory=free_port)
    serve: Process | None = None
    worker: Process | None = None
    done: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Where ``gateway serve`` listens."""
        return f"http://127.0.0.1:{self.port}"

    async def start_serve(self) -> None:
        """``gateway serve``, once it answers."""
        self.serve = await serving_process(
            {**self.env, "GATEWAY_WORKER": "off"}, self.logs / "serve.log", self.port
        )

    def start_worker(self) -> None:
        """``gateway worker``."""
        args = ["worker", "--concurrency", str(WORKER_CONCURRENCY)]
        self.worker = start(args, {**self.env, **WORKER_ENV}, self.logs / "worker.log")

    async def inflict(self, progress: Callable[[], float]) -> None:
        """Each fault of :data:`SCHEDULE` once the sender's progress reaches its share."""
        for share, fault in SCHEDULE:
            await until(lambda share=share: progress() >= share, within=3600)
            if fault == "kill serve":
                assert self.serve is not None
                kill(self.serve)
                await self.start_serve()
            elif fault == "kill worker":
                assert self.worker is not None
                kill(self.worker)
                self.start_worker()
            else:
                await self.outage()
            self.done.append(fault)

    async def stop(self) -> tuple[int, int]:
        """SIGTERM both; their exit codes."""
        assert self.serve is not None
        assert self.worker is not None
        return await stopped(self.serve), await stopped(self.worker)

    def close(self) -> None:
        """Kill whatever is still running."""
        for process in (self.serve, self.worker):
            if process is not None:
                kill(process)


@asynccontextmanager
async def rigged(settings: Settings, logs: Path) -> AsyncIterator[Rig]:
    """A rig on the test's database: PostgreSQL behind a proxy that can cut it, or a SQLite file to lock.

    With ``GATEWAY_TEST_RESTART_POSTGRES=1`` (``make soak``, which runs alone) the outage restarts
    the machine's PostgreSQL server instead.
    """
    env = gateway_env(settings, GATEWAY_RATE_LIMIT="100000/s")
    if settings.is_sqlite:
        path = Path(str(make_url(settings.database_url).database))
        rig = Rig(env, logs, lambda: lock_sqlite(path, OUTAGE_S), "write lock")
        try:
            yield rig
        finally:
            rig.close()
        return
    url = make_url(settings.database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    if os.environ.get("GATEWAY_TEST_RESTART_POSTGRES") == "1":
        outage: Callable[[], Awaitable[None]] = lambda: restart_postgres(OUTAGE_S)  # noqa: E731
        kind = "server restart"
    else:
        outage = lambda: proxy.outage(OUTAGE_S)  # noqa: E731
        kind = "proxy cut"
    rig = Rig({**env, "GATEWAY_DATABASE_URL": proxied_url(settings.database_url, proxy)}, logs, outage, kind)
    try:
        yield rig
    finally:
        rig.close()
        await proxy.close()
