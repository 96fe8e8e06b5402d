"""The Stripe SDK facade: one client per workspace, Stripe's errors mapped to the contract's codes."""

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar, Request, Response, post
from stripe import _util

from gateway.errors import (
    CustomerNotFound,
    GatewayError,
    StripeAuthFailed,
    StripeRateLimited,
    StripeRejected,
    StripeUnavailable,
)
from gateway.models import Workspace
from gateway.settings import Settings
from gateway.stripe_client import StripeClients, stripe_errors
from gateway.vault import Vault
from tests.servers import serving

pytestmark = pytest.mark.anyio

CALLS: list[dict[str, Any]] = []


def _error(status: int, type_: str, message: str, code: str = "", param: str = "") -> Response[Any]:
    body = {"error": {"type": type_, "message": message, "code": code, "param": param}}
    return Response(body, status_code=status)


@post("/v1/billing_portal/sessions", status_code=200)
async def create_session(request: Request[Any, Any, Any]) -> Response[Any]:
    """A Stripe stand-in whose customer ID chooses the answer."""
    form = dict(await request.form())
    CALLS.append({"auth": request.headers.get("authorization"), **form})
    answers = {
        "cus_missing": _error(
            404,
            "invalid_request_error",
            "No such customer: 'cus_missing'; a similar object exists in live mode, "
            "but a test mode key was used to make this request.",
            "resource_missing",
            "customer",
        ),
        "cus_badreturn": _error(
            400, "invalid_request_error", "Invalid URL: return_url", "url_invalid", "return_url"
        ),
        "cus_auth": _error(401, "invalid_request_error", "Invalid API Key provided: sk_test_****7890"),
        "cus_busy": _error(429, "invalid_request_error", "Too many requests", "rate_limit"),
        "cus_down": _error(500, "api_error", "Something went wrong"),
    }
    answer = answers.get(str(form["customer"]))
    if answer is not None:
        return answer
    return Response({"id": "bps_1", "object": "billing_portal.session", "url": "https://portal.example/s/1"})


@pytest.fixture(scope="module")
def stripe_stub() -> Iterator[str]:
    with serving(Litestar([create_session])) as url:
        yield url


def _workspace(vault: Vault, base: str, key: str = "sk_test_1234567890") -> Workspace:
    return Workspace(id="ws_1", name="acme", stripe_key_enc=vault.encrypt(key), stripe_api_base=base)


async def _create(clients: StripeClients, workspace: Workspace, customer: str) -> Any:
    with stripe_errors():
        client = clients.client_for(workspace)
        return await client.v1.billing_portal.sessions.create_async(params={"customer": customer})


async def test_client_is_reused_and_sends_the_workspace_key(stripe_stub: str) -> None:
    """The same workspace gets the same client; its decrypted key is what Stripe sees."""
    vault = Vault(["k"])
    clients = StripeClients(Settings(secret_key="k"), vault)
    workspace = _workspace(vault, stripe_stub)
    try:
        session = await _create(clients, workspace, "cus_ok")
        assert session.url == "https://portal.example/s/1"
        assert clients.client_for(workspace) is clients.client_for(workspace)
        assert CALLS[-1]["auth"] == "Bearer sk_test_1234567890"
        rotated = _workspace(vault, stripe_stub, key="sk_test_rotated000")
        assert clients.client_for(rotated) is not clients.client_for(workspace)
    finally:
        await clients.close()


@pytest.mark.parametrize(
    ("customer", "error", "message_part"),
    [
        ("cus_missing", CustomerNotFound, "similar object exists in live mode"),
        ("cus_badreturn", StripeRejected, "return_url"),
        ("cus_auth", StripeAuthFailed, "secret key"),
        ("cus_busy", StripeRateLimited, "rate limiting"),
        ("cus_down", StripeUnavailable, "retry"),
    ],
)
async def test_stripe_errors_map_to_contract_codes(
    stripe_stub: str, customer: str, error: type[GatewayError], message_part: str
) -> None:
    """Each kind of Stripe failure becomes the contract's error, with Stripe's message only when safe."""
    vault = Vault(["k"])
    clients = StripeClients(Settings(secret_key="k"), vault)
    try:
        with pytest.raises(error) as caught:
            await _create(clients, _workspace(vault, stripe_stub), customer)
    finally:
        await clients.close()
    assert message_part in caught.value.message
    assert "sk_test" not in caught.value.message


async def test_unreachable_stripe_is_unavailable() -> None:
    """A connection refused (after the SDK's retries) is stripe_unavailable."""
    vault = Vault(["k"])
    clients = StripeClients(Settings(secret_key="k"), vault)
    try:
        with pytest.raises(StripeUnavailable):
            await _create(clients, _workspace(vault, "http://127.0.0.1:9"), "cus_ok")
    finally:
        await clients.close()


async def test_sdk_log_lines_are_formatted_only_when_someone_listens(
    stripe_stub: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With the ``stripe`` logger quiet nothing is formatted; turned on, its lines come out as before."""
    formatted: list[dict[str, Any]] = []
    logfmt = _util.logfmt
    monkeypatch.setattr(_util, "logfmt", lambda props: formatted.append(props) or logfmt(props))
    vault = Vault(["k"])
    clients = StripeClients(Settings(secret_key="k"), vault)
    try:
        with caplog.at_level(logging.WARNING, logger="stripe"):
            await _create(clients, _workspace(vault, stripe_stub), "cus_ok")
        assert formatted == []
        with caplog.at_level(logging.INFO, logger="stripe"):
            await _create(clients, _workspace(vault, stripe_stub), "cus_ok")
    finally:
        await clients.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "stripe"]
    assert any(line.startswith("message='Request to Stripe api'") for line in lines)
    assert not any("API response body" in line for line in lines)  # a debug line: formatted only at DEBUG
