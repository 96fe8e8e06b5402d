"""Stripe misbehaving under the HTTP API: 429s, 500s, hangs and cut connections, injected by the sandbox.

A portal session and a preset sync each meet every fault. A passing fault is retried (the SDK sends
every POST with one Idempotency-Key across its retries, so Stripe makes one object even when a timed
out attempt was processed after all); a lasting one answers the contract's ``stripe_*`` error at once
after the retries, never a 500; a 429 is not retried (Stripe asks for less, not more).
"""

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from gateway.sandbox.faults import FaultKind
from gateway.sandbox.seed import Seeded
from gateway.settings import Settings
from gateway.stripe_client import MAX_NETWORK_RETRIES
from tests.journeys.stripe_calls import StripeCalls
from tests.sandbox import SandboxServer
from tests.support import Database, Tenant, assert_error, make_settings

pytestmark = pytest.mark.anyio

#: Per attempt: short, so a hanging Stripe costs the suite little.
TIMEOUT_S = 0.3
#: How long a hung Stripe call takes to answer (after the gateway stopped waiting).
HANG_S = 1.0
ATTEMPTS = 1 + MAX_NETWORK_RETRIES


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return make_settings(tmp_path, database, stripe_timeout=TIMEOUT_S)


@pytest.fixture
def seeded(sandbox: SandboxServer) -> Seeded:
    return sandbox.seed()


@dataclass
class Call:
    """A request that makes one Stripe object with one POST, and where that object is counted."""

    path: str
    stripe_path: str
    stripe_object: str
    body: dict[str, Any] | None = None


async def _prepare(
    client: AsyncTestClient[Litestar], tenant: Tenant, seeded: Seeded, which: str, tag: str
) -> Call:
    """The call ``which`` names, with the workspace brought to where it makes exactly one Stripe POST."""
    if which == "portal session":
        ada = seeded.customers["ada@example.com"]
        warm = await client.post("/v1/portal-sessions", json={"customer": ada}, headers=tenant.headers())
        assert warm.status_code == 200, warm.text  # the configuration exists: one POST per session now
        return Call(
            "/v1/portal-sessions", "/v1/billing_portal/sessions", "billing_portal.session", {"customer": ada}
        )
    # A preset of its own each time: its sync creates one configuration.
    gold = {"features": {"invoice_history": {"enabled": True}}, "business_profile": {"headline": tag}}
    assert (await client.put(f"/v1/presets/{tag}", json=gold, headers=tenant.headers())).status_code == 201
    return Call(
        f"/v1/presets/{tag}/sync", "/v1/billing_portal/configurations", "billing_portal.configuration"
    )


def _made(sandbox: SandboxServer, call: Call) -> int:
    return len(sandbox.sandbox.store.all(call.stripe_object, livemode=False))


CALLS = ["portal session", "preset sync"]


@pytest.mark.parametrize("which", CALLS)
async def test_a_passing_fault_is_retried_and_makes_one_object(
    *,
    client: AsyncTestClient[Litestar],
    sandbox: SandboxServer,
    sandbox_tenant: Tenant,
    seeded: Seeded,
    stripe_calls: StripeCalls,
    which: str,
) -> None:
    """One 500, cut connection or hang on the POST: the request succeeds, and Stripe made one object."""
    faults: list[FaultKind] = ["server_error", "reset", "hang"]
    for fault in faults:
        call = await _prepare(client, sandbox_tenant, seeded, which, f"gold-{fault}")
        before = _made(sandbox, call)
        stripe_calls.clear()
        sandbox.faults.add(fault, 1, path=call.stripe_path, method="POST", seconds=HANG_S)
        response = await client.post(call.path, json=call.body, headers=sandbox_tenant.headers())
        assert response.status_code == 200, (fault, response.text)
        assert stripe_calls.count(f"POST {call.stripe_path}") == 2, fault  # the fault, then the retry
        if fault == "hang":  # the abandoned attempt reaches Stripe late, with the retry's Idempotency-Key
            await asyncio.sleep(HANG_S + 0.3)
        assert _made(sandbox, call) == before + 1, fault
        assert sandbox.faults.pending() == []


#: Each lasting fault, the code it becomes and how many attempts Stripe sees (the hang last: its
#: abandoned calls reach Stripe long after).
LASTING: list[tuple[FaultKind, str, int]] = [
    ("server_error", "stripe_unavailable", ATTEMPTS),
    ("reset", "stripe_unavailable", ATTEMPTS),
    ("rate_limit", "stripe_rate_limited", 1),
    ("hang", "stripe_unavailable", ATTEMPTS),
]


@pytest.mark.parametrize("which", CALLS)
async def test_a_lasting_fault_is_the_contracts_error(
    *,
    client: AsyncTestClient[Litestar],
    sandbox: SandboxServer,
    sandbox_tenant: Tenant,
    seeded: Seeded,
    stripe_calls: StripeCalls,
    which: str,
) -> None:
    """Stripe failing every attempt: a 503 with the contract's code after a bounded number of attempts,
    answered before a hung Stripe would have; nothing made; the next request works again."""
    for fault, code, attempts in LASTING:
        call = await _prepare(client, sandbox_tenant, seeded, which, f"gold-{fault}")
        before = _made(sandbox, call)
        stripe_calls.clear()
        sandbox.faults.add(fault, ATTEMPTS, path=call.stripe_path, method="POST", seconds=30.0)
        started = time.monotonic()
        response = await client.post(call.path, json=call.body, headers=sandbox_tenant.headers())
        # Not a timing benchmark: the gateway gave up on Stripe instead of waiting out the 30 s hang.
        assert time.monotonic() - started < 30.0, fault
        body = assert_error(response, 503, code)
        assert sandbox_tenant.admin_key not in response.text
        assert stripe_calls.count(f"POST {call.stripe_path}") == attempts, fault
        if code == "stripe_rate_limited":
            assert int(response.headers["retry-after"]) > 0
        if which == "portal session":
            assert body["url"] == ""  # the success keys, empty (a Bubble call keeps its schema)
        sandbox.faults.clear()
        if fault != "hang":  # a hung call still ends in Stripe making the object, later
            assert _made(sandbox, call) == before, fault
        again = await client.post(call.path, json=call.body, headers=sandbox_tenant.headers())
        assert again.status_code == 200, (fault, again.text)
