"""No secret in any log line: a whole journey, with its mistakes, and every line it logged scanned."""

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.logs import JsonFormatter
from gateway.vault import Vault
from gateway.workspaces import get_workspace, webhook_secrets
from tests import stripe_payloads as sp
from tests.receivers import receiving, until
from tests.servers import first_run_settings, serving_first_run
from tests.support import TEST_SECRET_KEY, Database

pytestmark = pytest.mark.anyio

QUIETED = ("stripe", "aiohttp", "sqlalchemy.engine", "asyncio", "uvicorn")
BUBBLE_TOKEN = "bubble-token-3f7c9a1e5d"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every line logged meanwhile, down to DEBUG and from every library, formatted as in production."""
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    levels = {name: logging.getLogger(name).level for name in ("", *QUIETED)}
    for name in levels:  # everything, debug lines of the SDK and of SQLAlchemy included
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def test_a_full_journey_logs_no_secret(
    tmp_path: Path,
    database: Database,
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
    log_lines: io.StringIO,
) -> None:
    """Portal URL, Stripe webhook in, callback out (a failure, then a success), and mistakes on the way."""
    settings = first_run_settings(tmp_path, database)

    async def flaky(_request: web.Request, n: int) -> web.StreamResponse:
        return web.Response(status=500, text="try later") if n == 1 else web.json_response({"ok": True})

    async with (
        serving_first_run(settings, db, vault) as run,
        receiving(flaky) as bubble,
        httpx.AsyncClient(base_url=run.url, timeout=30) as http,
    ):
        admin = {"Authorization": f"Bearer {run.made.api_key}"}
        portal = {"Authorization": f"Bearer {run.made.portal_key}"}
        customer = next(iter(run.made.customers.values()))
        made = await http.post(
            "/v1/subscribers",
            headers=admin,
            json={"url": f"{bubble.url}/wf/stripe", "headers": {"Authorization": f"Bearer {BUBBLE_TOKEN}"}},
        )
        assert made.status_code == 201, made.text
        subscriber_secret = made.json()["secret"]
        answer = await http.post("/v1/portal-sessions", headers=portal, json={"customer": customer})
        assert answer.status_code == 200, answer.text
        # A customer cancels in the portal: Stripe (the sandbox) signs the event to the gateway.
        subscription = next(iter(run.made.subscriptions.values()))
        stripe_http = httpx.AsyncClient(
            base_url=run.made.stripe_api_base, auth=(run.made.stripe_secret_key, "")
        )
        async with stripe_http:
            canceled = await stripe_http.delete(f"/v1/subscriptions/{subscription}")
        assert canceled.status_code == 200, canceled.text
        await until(lambda: len(bubble.requests) >= 2, within=20)  # refused once, then delivered
        # Mistakes: a wrong key, a forged webhook, a key of the wrong scope.
        assert (
            await http.get("/v1/keys", headers={"Authorization": "Bearer gw_test_wrong"})
        ).status_code == 401
        forged = sp.event("customer.subscription.deleted", sp.subscription())
        assert (await sp.send(http, run.made.workspace_id, forged, secret="whsec_forged")).status_code == 400
        assert (await http.get("/v1/keys", headers=portal)).status_code == 403
    async with db() as session:
        workspace = await get_workspace(session, run.made.workspace_id)
        stripe_webhook_secret = webhook_secrets(vault, workspace)[0]
    secrets = {
        "Stripe secret key": run.made.stripe_secret_key,
        "Stripe webhook signing secret": stripe_webhook_secret,
        "subscriber signing secret": subscriber_secret,
        "subscriber header": BUBBLE_TOKEN,
        "admin API key": run.made.api_key,
        "portal API key": run.made.portal_key,
        "GATEWAY_SECRET_KEY": TEST_SECRET_KEY,
    }
    logged = log_lines.getvalue()
    assert logged.count("\n") > 100, logged  # SQL and all: the scan has something to read
    for what, secret in secrets.items():
        # The whole secret, and its random part alone (after `gw_test_`, `whsec_`...: the random part
        # itself may hold a `_`, so only the first two count as prefix separators).
        for part in (secret, secret.split("_", 2)[-1]):
            assert part not in logged, f"{what} appears in the logs"
