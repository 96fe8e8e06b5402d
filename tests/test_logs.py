"""Logs are JSON lines; a line made while a request is handled carries that request's ID."""

import json
import logging

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from gateway.logs import JsonFormatter
from tests.sandbox import SandboxServer
from tests.support import Tenant

pytestmark = pytest.mark.anyio


async def test_lines_about_a_request_carry_its_request_id(
    client: AsyncTestClient[Litestar],
    sandbox: SandboxServer,
    sandbox_tenant: Tenant,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first portal session syncs its preset and logs it, with the ID the caller was answered with."""
    customer = sandbox.client.v1.customers.create(params={"email": "ada@example.com"}).id
    caplog.set_level(logging.INFO)
    response = await client.post(
        "/v1/portal-sessions", json={"customer": customer}, headers=sandbox_tenant.headers("portal")
    )
    assert response.status_code == 200, response.text
    synced = [r for r in caplog.records if r.getMessage().startswith("preset configuration")]
    assert synced, [r.getMessage() for r in caplog.records]
    line = json.loads(JsonFormatter().format(synced[0]))
    assert line["request_id"] == response.headers["x-request-id"] == response.json()["request_id"]
    assert line["level"] == "info"
    assert line["logger"] == "gateway.portal.sessions"


def test_lines_outside_requests_carry_no_request_id(caplog: pytest.LogCaptureFixture) -> None:
    """A record made outside any request has no request_id field."""
    caplog.set_level(logging.INFO)
    logging.getLogger("gateway.test").info("housekeeping")
    line = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert "request_id" not in line
    assert line["message"] == "housekeeping"
