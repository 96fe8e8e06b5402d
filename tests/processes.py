"""``gateway serve`` and ``gateway worker`` as real processes on a test's database."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from gateway.settings import Settings
from tests.receivers import until
from tests.support import TEST_SECRET_KEY

GATEWAY = str(Path(sys.executable).parent / "gateway")

Process = subprocess.Popen[bytes]


def gateway_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment of a ``gateway`` command on the test's database."""
    return {
        **os.environ,
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_DATABASE_SCHEMA": settings.database_schema,
        "GATEWAY_SECRET_KEY": TEST_SECRET_KEY,
        "GATEWAY_DATA_DIR": str(settings.data_dir),
        "GATEWAY_ALLOW_PRIVATE_CALLBACKS": "true",
        **overrides,
    }


def start(args: list[str], env: dict[str, str], log: Path) -> Process:
    """``gateway ARGS...`` in the background, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen([GATEWAY, *args], env=env, stdout=out, stderr=out)  # noqa: S603  (our own command)


def kill(process: Process) -> None:
    """SIGKILL, and reap it."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


@contextmanager
def worker_process(env: dict[str, str], log: Path, concurrency: int = 8) -> Iterator[Process]:
    """A ``gateway worker`` subprocess, killed at the end if still running."""
    process = start(["worker", "--concurrency", str(concurrency)], env, log)
    try:
        yield process
    finally:
        kill(process)


async def stopped(process: Process) -> int:
    """SIGTERM, then the exit code once it has finished what it holds."""
    process.send_signal(signal.SIGTERM)
    await until(lambda: process.poll() is not None)
    return process.returncode


async def serving_process(env: dict[str, str], log: Path, port: int, *, within: float = 60.0) -> Process:
    """``gateway serve`` on ``port``, once ``/healthz`` answers (started again if it exits meanwhile).

    A start can fail for reasons a supervisor would retry (the database unreachable at that moment).
    """
    url = f"http://127.0.0.1:{port}/healthz"
    process = start(["serve", "--port", str(port)], env, log)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    try:
        async with httpx.AsyncClient(timeout=1.0) as http:
            while loop.time() < deadline:
                if process.poll() is not None:
                    process = start(["serve", "--port", str(port)], env, log)
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(url)).status_code == httpx.codes.OK:
                        return process
                await asyncio.sleep(0.05)
    except BaseException:  # cancelled meanwhile (the test timed out): leave nothing running
        kill(process)
        raise
    kill(process)
    msg = f"gateway serve did not answer on port {port} within {within:.0f} s (see {log})"
    raise AssertionError(msg)
