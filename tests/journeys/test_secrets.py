"""Secrets stay secret: Stripe keys, webhook signing secrets, subscriber secrets and static headers, API
keys. Each is shown once when made (a new key, a subscriber's secret) and then never again: not in any
answer of any route, not in an error, not in a log line, not in the database in plaintext (API keys
are stored as SHA-256 hashes; the rest encrypted). Secrets are compared in constant time.
"""

import hashlib
import hmac
import logging
import secrets as random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.settings import Settings
from gateway.vault import Vault
from tests import stripe_payloads as sp
from tests.console import sign_in
from tests.route_table import Objects, app_routes, populate, table_rows
from tests.support import Database, Tenant, assert_error, make_settings, make_tenant

pytestmark = pytest.mark.anyio

STRIPE_KEY = "sk_test_" + random.token_hex(16)


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return make_settings(tmp_path, database, stripe_api_base="http://127.0.0.1:9")


@dataclass
class Revealed:
    """A workspace with one of everything, and every secret it was ever shown."""

    objects: Objects
    secrets: list[str]


@pytest.fixture
async def revealed(
    client: AsyncTestClient[Litestar], db: async_sessionmaker[AsyncSession], vault: Vault, settings: Settings
) -> Revealed:
    tenant: Tenant = await make_tenant(db, vault, settings, "secretive", stripe_key=STRIPE_KEY)
    objects = await populate(client, db, vault, tenant, "secretive")
    shown = [STRIPE_KEY, *objects.secrets]
    make_key = "make-" + random.token_hex(12)
    made = await client.post(
        "/v1/subscribers",
        json={"url": "http://127.0.0.1:9/zap", "headers": {"X-Make-Apikey": make_key}},
        headers={**tenant.headers(), "Idempotency-Key": "zap"},
    )
    assert made.status_code == 201, made.text
    shown += [made.json()["secret"], make_key]
    rotated = await client.post(
        f"/v1/subscribers/{made.json()['id']}/rotate-secret", headers=tenant.headers()
    )
    shown.append(rotated.json()["secret"])
    key = await client.post(
        "/v1/keys", json={"name": "ops"}, headers={**tenant.headers(), "Idempotency-Key": "k"}
    )
    shown.append(key.json()["api_key"])
    assert all(len(s) >= 16 for s in shown)
    return Revealed(objects, shown)


def _found(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


async def test_no_secret_is_stored_in_plaintext(
    db: async_sessionmaker[AsyncSession], database: Database, revealed: Revealed
) -> None:
    """No row of any table holds a secret as it was given; API keys are there only as SHA-256 hashes;
    on SQLite the database file and its write-ahead log hold none either, byte for byte."""
    rows = repr(await table_rows(db))
    assert _found(rows, revealed.secrets) == []
    api_keys = [s for s in revealed.secrets if s.startswith("gw_")]
    assert api_keys
    assert all(hashlib.sha256(k.encode()).hexdigest() in rows for k in api_keys)
    if not database.is_postgres:
        path = Path(database.url.split("///", 1)[1])
        stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert [s for s in revealed.secrets if s.encode() in stored] == []


async def test_no_answer_shows_a_secret_again(
    app: Litestar, client: AsyncTestClient[Litestar], revealed: Revealed, caplog: pytest.LogCaptureFixture
) -> None:
    """Every GET route of the API and the console (their parameters filled with the workspace's objects),
    and a replayed creation, answer without any secret; nothing logged holds one either."""
    caplog.set_level(logging.DEBUG)
    tenant, values = revealed.objects.tenant, revealed.objects.values
    walked = 0
    await sign_in(client, tenant.admin_key)  # the console's pages through the same client (its cookie)
    for route in app_routes(app):
        if route.method != "GET" or not route.path.startswith(("/v1/", "/console")):
            continue
        if any(p not in values for p in route.path_params):
            continue  # sample events: no workspace data
        answer = await client.get(route.url(values), headers=tenant.headers())
        assert answer.status_code < 500, (route, answer.text[:300])
        assert _found(answer.text, revealed.secrets) == [], route
        walked += 1
    assert walked >= 20
    replay = await client.post(
        "/v1/keys", json={"name": "ops"}, headers={**tenant.headers("portal"), "Idempotency-Key": "k"}
    )
    assert _found(replay.text, revealed.secrets) == []
    assert _found(caplog.text, revealed.secrets) == []


#: Subscribers refused for a URL or a header that carries a secret.
REFUSED: list[Callable[[str], dict[str, Any]]] = [
    lambda secret: {
        "url": "http://h.example/",
        "headers": {"Authorization": f"Bearer {secret}\r\nX-Evil: 1"},
    },
    lambda secret: {"url": "http://h.example/", "headers": {f"Authorization {secret}": "x"}},
    lambda secret: {"url": f"http://user:{secret}@h.example/"},
    lambda secret: {"url": "http://h.example/", "headers": {"Webhook-Signature": secret}},
    lambda secret: {"url": "http://h.example/", "headers": {"X-Token": secret + "x" * 5000}},
]


@pytest.mark.parametrize("body", REFUSED)
async def test_a_refused_secret_is_not_echoed(
    client: AsyncTestClient[Litestar], tenant: Tenant, body: Callable[[str], dict[str, Any]]
) -> None:
    """A subscriber refused for its URL or headers: the error does not repeat the secret it carried."""
    secret = "tok_" + random.token_hex(12)
    response = await client.post("/v1/subscribers", json=body(secret), headers=tenant.headers())
    assert_error(response, 400, "validation_error")
    assert secret not in response.text


@pytest.fixture
def comparisons(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """Every constant-time comparison made meanwhile (``hmac.compare_digest``, ``secrets.compare_digest``)."""
    seen: list[tuple[Any, Any]] = []
    real: Callable[[Any, Any], bool] = hmac.compare_digest

    def recorded(a: Any, b: Any) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recorded)
    monkeypatch.setattr(random, "compare_digest", recorded)
    return seen


async def test_secrets_are_compared_in_constant_time(
    client: AsyncTestClient[Litestar],
    db: async_sessionmaker[AsyncSession],
    vault: Vault,
    tenant: Tenant,
    comparisons: list[tuple[Any, Any]],
) -> None:
    """An API key, a Stripe signature, a console CSRF token and a portal link are each checked with a
    constant-time comparison (a plain ``==`` would leak, by its timing, how much of a guess is right)."""
    await client.get("/v1/keys", headers=tenant.headers())
    key_hash = hashlib.sha256(tenant.admin_key.encode()).hexdigest()
    assert any(key_hash in (a, b) for a, b in comparisons), "API key"
    comparisons.clear()
    await sp.enable_webhooks(db, vault, tenant.workspace_id)
    forged = await sp.send(
        client, tenant.workspace_id, sp.event("customer.updated", {}), secret="whsec_forged"
    )
    assert forged.status_code == 400
    assert comparisons, "Stripe signature"
    comparisons.clear()
    console = await sign_in(client, tenant.admin_key)
    await console.submit("/console/subscribers/new", {"url": "http://127.0.0.1:9/h", "event_types": "*"})
    assert any(console.csrf in (a, b) for a, b in comparisons), "CSRF token"
    comparisons.clear()
    link = await client.post("/v1/portal-links", json={"customer": "cus_1"}, headers=tenant.headers("portal"))
    token = link.json()["url"].rsplit("/", 1)[1]
    await client.get(f"/p/{token[:-2]}xx", follow_redirects=False)
    assert comparisons, "portal link"
