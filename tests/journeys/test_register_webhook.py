"""Journey: an operator registers a workspace's webhook endpoint from the command line, then Stripe (the
sandbox) sends its events to the running gateway, which verifies them with the stored secret."""

import json
import time
from collections.abc import Iterator

import pytest
import stripe

from gateway import webhook_targets
from gateway.app import create_app
from gateway.event_facts import HANDLED_EVENTS
from gateway.settings import Settings
from tests.sandbox import SandboxServer
from tests.servers import serving
from tests.support import run_cli as run


@pytest.fixture
def gateway_url(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The gateway serving ``cli_env``'s database on a real port; secrets are re-read on every event."""
    monkeypatch.setattr(webhook_targets, "CACHE_TTL_S", 0.0)
    settings = Settings(**{k.removeprefix("GATEWAY_").lower(): v for k, v in cli_env.items()})  # type: ignore[arg-type]
    with serving(create_app(settings)) as url:
        cli_env["GATEWAY_PUBLIC_URL"] = url
        yield url


def settled(sandbox: SandboxServer, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while sandbox.run(lambda s: len(s.store.pending)):
        assert time.monotonic() < deadline, f"events still pending; log: {sandbox.attempts}"
        time.sleep(0.05)


def test_register_webhook_then_receive_and_rotate(
    cli_env: dict[str, str], gateway_url: str, sandbox: SandboxServer
) -> None:
    """--register-webhook creates the endpoint with the handled events and keeps its secret; events then
    verify; a rotated-in secret keeps the old one working until it is dropped."""
    result = run(
        cli_env, "workspace", "create", "acme", "--stripe-key", sandbox.secret_key,
        "--api-base", sandbox.api_base, "--register-webhook",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["webhook_url"] == f"{gateway_url}/v1/stripe/webhooks/{created['workspace_id']}"
    assert "sends this workspace's events" in result.stderr
    (endpoint,) = sandbox.client.v1.webhook_endpoints.list().data
    assert (endpoint.url, endpoint.enabled_events) == (created["webhook_url"], list(HANDLED_EVENTS))
    assert (endpoint.api_version, endpoint.metadata["gateway_workspace"]) == (
        stripe.api_version,
        created["workspace_id"],
    )
    sandbox.seed()
    settled(sandbox)
    assert sandbox.attempts
    assert {a.status for a in sandbox.attempts} == {200}

    updated = json.loads(
        run(cli_env, "workspace", "update", "acme", "--webhook-secret", "whsec_rotated_in").stdout
    )
    assert (updated["webhook_secrets"], updated["stripe_webhook_endpoint_id"]) == (2, endpoint.id)
    customer = sandbox.client.v1.customers.list().data[0]
    sandbox.client.v1.customers.update(customer.id, params={"name": "Still signed with the old secret"})
    settled(sandbox)
    assert sandbox.attempts[-1].status == 200
    dropped = json.loads(run(cli_env, "workspace", "update", "acme", "--drop-previous-secret").stdout)
    assert dropped["webhook_secrets"] == 1
    sandbox.client.v1.customers.update(customer.id, params={"name": "Now refused"})
    settled(sandbox)
    assert sandbox.attempts[-1].status == 400


def test_refused_registration_creates_nothing(cli_env: dict[str, str], sandbox: SandboxServer) -> None:
    """When Stripe refuses the key, the command exits 1, says why, and no workspace is left behind."""
    cli_env["GATEWAY_PUBLIC_URL"] = "https://gw.example"
    result = run(
        cli_env, "workspace", "create", "acme", "--stripe-key", "sk_test_notthesandboxkey",
        "--api-base", sandbox.api_base, "--register-webhook",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "Stripe refused" in result.stderr
    assert json.loads(run(cli_env, "workspace", "list").stdout) == []


def test_update_turns_refetching_on_and_refuses_a_bad_secret(cli_env: dict[str, str]) -> None:
    """workspace update switches re-fetching and refuses what is not a signing secret."""
    run(cli_env, "workspace", "create", "acme", "--stripe-key", "sk_test_abcdefghijk")
    on = json.loads(run(cli_env, "workspace", "update", "acme", "--refetch-subscriptions").stdout)
    assert (on["refetch_subscriptions"], on["webhook_secrets"]) == (True, 0)
    bad = run(cli_env, "workspace", "update", "acme", "--webhook-secret", "sk_test_oops")
    assert bad.exit_code == 1
    assert "whsec_" in bad.stderr
