"""The first ``gateway serve`` in development makes a sandbox workspace once, prints its key and a curl."""

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import stripe
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import ValidationFailed
from gateway.models import Workspace
from gateway.sandbox.app import STATE_FILE
from gateway.sandbox.core import Sandbox
from gateway.sandbox.first_run import SANDBOX_FILE, SandboxWorkspace, make_sandbox_workspace
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.workspaces import webhook_secrets
from tests.support import TEST_SECRET_KEY, Database, make_settings

pytestmark = pytest.mark.anyio


async def test_first_run_wires_a_seeded_sandbox_workspace(
    db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings
) -> None:
    """The workspace points at the mounted sandbox, holds its endpoint's secret, and is made once."""
    async with db() as session, session.begin():
        made = await make_sandbox_workspace(session, vault, settings)
    assert made is not None
    async with db() as session:
        workspace = (await session.exec(select(Workspace))).one()
    assert (workspace.sandbox, workspace.stripe_api_base) == (True, f"{settings.public_url}/sandbox/stripe")
    sandbox = Sandbox(state_path=settings.data_dir / STATE_FILE)
    assert sandbox.secret_key == made.stripe_secret_key
    endpoint = sandbox.store.objects[workspace.stripe_webhook_endpoint_id]
    assert endpoint["url"] == f"{settings.public_url}/v1/stripe/webhooks/{workspace.id}"
    assert webhook_secrets(vault, workspace) == [sandbox.store.private[endpoint["id"]]["secret"]]
    assert len(sandbox.store.all("customer", livemode=False)) == len(made.customers) == 5
    waiting = [e for e, endpoints in sandbox.store.pending.items() if endpoint["id"] in endpoints]
    kinds = {sandbox.store.objects[e]["type"] for e in waiting}
    assert {"customer.subscription.created", "invoice.paid"} <= kinds
    assert SandboxWorkspace.read(settings) == made
    assert oct((settings.data_dir / SANDBOX_FILE).stat().st_mode & 0o777) == "0o600"
    async with db() as session, session.begin():
        assert await make_sandbox_workspace(session, vault, settings) is None


async def test_first_run_is_refused_in_production(
    tmp_path: Path, db: async_sessionmaker[AsyncSession]
) -> None:
    """A production gateway never makes a sandbox workspace."""
    production = make_settings(tmp_path, Database(url="sqlite+aiosqlite:///:memory:"), env="production")
    async with db() as session:
        with pytest.raises(ValidationFailed):
            await make_sandbox_workspace(session, Vault([TEST_SECRET_KEY]), production)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serve(env: dict[str, str], log: Path) -> Iterator[str]:
    """``gateway serve`` in a subprocess until it answers; yields what it printed so far."""
    url = f"http://127.0.0.1:{env['PORT']}"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from gateway.cli import main; main()", "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60  # imports and migrations take 10 s and more on a loaded machine
            while True:
                try:
                    if httpx.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            yield log.read_text()
        finally:
            process.terminate()
            process.wait(timeout=15)


def _wait_for_events(url: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 15
    while not httpx.get(f"{url}/v1/events", headers=headers).json()["data"]:
        assert time.monotonic() < deadline, "no Stripe event reached the gateway"
        time.sleep(0.1)


def test_serve_prints_a_working_key_and_keeps_the_sandbox_across_restarts(tmp_path: Path) -> None:
    """The printed key works, the printed Stripe sandbox is seeded, and both survive a restart.

    Only ``PORT`` is set (as ``PORT=... make run`` does): the URLs handed out follow it.
    """
    port = str(_free_port())
    env = {
        **os.environ,
        "GATEWAY_ENV": "development",
        "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "PORT": port,
        "GATEWAY_WORKER": "off",
    }
    for name in ("GATEWAY_SECRET_KEY", "GATEWAY_PUBLIC_URL", "HOST"):
        env.pop(name, None)
    url = f"http://127.0.0.1:{port}"
    with _serve(env, tmp_path / "first.log") as printed:
        key = re.search(r"API key\s+(gw_test_\S+)", printed)
        assert key is not None, printed
        curl = re.search(r"curl -s -X POST (\S+)/v1/portal-sessions", printed)
        assert curl is not None
        assert curl.group(1) == url
        body = json.loads(re.search(r"-d '(.+)'", printed).group(1))  # type: ignore[union-attr]
        assert body["preset"] == "default"
        assert body["customer"].startswith("cus_")
        headers = {"Authorization": f"Bearer {key.group(1)}"}
        portal = httpx.post(f"{curl.group(1)}/v1/portal-sessions", json=body, headers=headers, timeout=30)
        assert portal.status_code == 200, portal.text
        assert portal.json()["url"].startswith(f"{url}/sandbox/portal/")
        kept = json.loads((tmp_path / "data" / SANDBOX_FILE).read_text())
        assert kept["api_key"] == key.group(1)
        assert kept["webhook_url"].startswith(f"{url}/v1/stripe/webhooks/")
        assert kept["stripe_api_base"] == f"{url}/sandbox/stripe"
        _wait_for_events(url, headers)  # the sandbox reached the webhook URL it was handed
        client = stripe.StripeClient(
            kept["stripe_secret_key"], base_addresses={"api": kept["stripe_api_base"]}
        )
        assert body["customer"] in {c.id for c in client.v1.customers.list(params={"limit": 100}).data}
        added = client.v1.customers.create(params={"email": "new@example.com"})
    with _serve(env, tmp_path / "second.log") as printed_again:
        assert key.group(1) not in printed_again  # shown once
        assert SANDBOX_FILE in printed_again
        assert client.v1.customers.retrieve(added.id).email == "new@example.com"
        assert httpx.get(f"{url}/v1/keys", headers=headers).status_code == 200
