"""Running the gateway: ``serve`` (web and embedded worker), ``worker``, and its ``openapi`` document."""

from pathlib import Path
from typing import Any

import click
import uvicorn
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.app import create_app
from gateway.cli.output import in_session, say
from gateway.db import upgrade_in_child
from gateway.openapi import render_openapi
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.worker import run_worker


@click.command()
@click.option("--host", default=None, help="Interface to listen on (default: HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: PORT or 8000).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the HTTP API (and deliver callbacks unless GATEWAY_WORKER=off)."""
    # Given here, they count as HOST/PORT: GATEWAY_PUBLIC_URL, when unset, follows them.
    given: dict[str, Any] = {k: v for k, v in (("HOST", host), ("PORT", port)) if v is not None}
    settings = Settings(**given)
    if settings.is_sqlite:  # SQLite means one machine and no release step: migrate on every start
        upgrade_in_child(settings)
    if settings.env == "development":
        say(_sandbox_first_run(settings))
    say(f"Portal Gateway listening on http://{settings.host}:{settings.port}")
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)


def _sandbox_first_run(settings: Settings) -> str:
    """Make the sandbox workspace when there is no workspace yet; what to tell the developer."""
    # Loaded only in development: production never carries the sandbox in memory.
    from gateway.sandbox.first_run import (  # noqa: PLC0415
        SandboxWorkspace,
        make_sandbox_workspace,
        welcome,
    )

    vault = Vault(settings.secret_keys())

    async def work(session: AsyncSession) -> "SandboxWorkspace | None":
        return await make_sandbox_workspace(session, vault, settings)

    made = in_session(settings, work)
    if made is not None:
        return welcome(settings, made, first=True)
    kept = SandboxWorkspace.read(settings)
    return welcome(settings, kept, first=False) if kept is not None else ""


@click.command()
@click.option("--concurrency", type=click.IntRange(1, 1000), default=None, help="Attempts in flight at once.")
def worker(concurrency: int | None) -> None:
    """Deliver callbacks (alone, to scale out: run several on PostgreSQL)."""
    run_worker(Settings(), concurrency)


@click.command()
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File to write."
)
def openapi(output: Path | None) -> None:
    """Print (or write) the OpenAPI document generated from the app."""
    text = render_openapi(create_app(Settings()))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        say(f"wrote {output}")
