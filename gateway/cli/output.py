"""What every ``gateway`` command shares: JSON on stdout, human text on stderr, one transaction."""

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.db import make_engine, make_session_factory
from gateway.errors import GatewayError
from gateway.settings import Settings

T = TypeVar("T")


def emit(value: object) -> None:
    """Print ``value`` as JSON on stdout (what scripts read)."""
    click.echo(json.dumps(value, indent=2))


def say(message: str) -> None:
    """Print a human message on stderr."""
    click.echo(message, err=True)


def in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction; a ``GatewayError`` exits 1 with its message."""

    async def run() -> T:
        engine = make_engine(settings)
        try:
            async with make_session_factory(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except GatewayError as exc:
        say(f"error: {exc.message}")
        sys.exit(1)
