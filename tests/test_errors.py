"""Every non-2xx answer is the contract's JSON error shape, with a request ID."""

from typing import Any

import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from gateway.app import MAX_BODY_BYTES, create_app
from gateway.settings import Settings
from tests.support import Database, Tenant, assert_error

pytestmark = pytest.mark.anyio


async def test_unknown_route_is_json_404(client: AsyncTestClient[Litestar]) -> None:
    """The framework's 404 comes back as not_found JSON, never HTML."""
    response = await client.get("/v1/nothing-here")
    assert response.headers["content-type"].startswith("application/json")
    assert_error(response, 404, "not_found")


async def test_wrong_method_is_json_405(client: AsyncTestClient[Litestar]) -> None:
    """A known path with the wrong method answers 405 method_not_allowed."""
    assert_error(await client.put("/healthz"), 405, "method_not_allowed")


async def test_body_validation_names_the_field(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """A body that breaks the schema answers validation_error with the offending field."""
    response = await client.post("/v1/keys", json={"scope": "root"}, headers=tenant.headers())
    body = assert_error(response, 400, "validation_error")
    assert body["fields"] == [{"field": "scope", "message": body["fields"][0]["message"]}]
    assert "root" in body["fields"][0]["message"]


async def test_unknown_field_is_refused(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """Unknown body fields are refused rather than silently ignored."""
    response = await client.post(
        "/v1/keys", json={"scope": "portal", "scopes": "admin"}, headers=tenant.headers()
    )
    assert_error(response, 400, "validation_error")


async def test_malformed_json_is_validation_error(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """Bytes that are not JSON answer 400 validation_error."""
    headers = {**tenant.headers(), "Content-Type": "application/json"}
    assert_error(
        await client.post("/v1/keys", content=b"{not json", headers=headers), 400, "validation_error"
    )


async def test_oversized_body_is_json_413(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """A body over the size cap answers 413 payload_too_large."""
    huge = b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}'
    headers = {**tenant.headers(), "Content-Type": "application/json"}
    assert_error(await client.post("/v1/keys", content=huge, headers=headers), 413, "payload_too_large")


async def test_query_validation(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """An out-of-range query parameter answers validation_error naming it."""
    body = assert_error(
        await client.get("/v1/keys?limit=1000", headers=tenant.headers()), 400, "validation_error"
    )
    assert body["fields"][0]["field"] == "limit"


async def test_unexpected_exception_is_internal_error(settings: Settings, db: Any, caplog: Any) -> None:
    """A bug answers 500 internal_error without details, and is logged with its request ID."""
    app = create_app(settings)

    @get("/boom", exclude_from_auth=True)
    async def boom() -> None:
        msg = "secret detail"
        raise RuntimeError(msg)

    app.register(boom)
    async with AsyncTestClient(app) as client:
        response = await client.get("/boom")
    body = assert_error(response, 500, "internal_error")
    assert "secret detail" not in response.text
    assert any(r.__dict__.get("request_id") == body["request_id"] for r in caplog.records)


async def test_errors_as_200(client: AsyncTestClient[Litestar]) -> None:
    """?errors_as_200=1 keeps the error body but answers 200, for tools that drop non-2xx bodies."""
    response = await client.get("/v1/keys?errors_as_200=1")
    assert response.status_code == 200
    assert response.json()["error_code"] == "unauthorized"
    assert response.json()["status"] == 401


async def test_every_response_has_a_request_id(client: AsyncTestClient[Litestar]) -> None:
    """Success and error answers alike carry a fresh X-Request-Id."""
    ids = {(await client.get(path)).headers["x-request-id"] for path in ("/healthz", "/nope", "/healthz")}
    assert len(ids) == 3
    assert all(i.startswith("req_") for i in ids)


async def test_nul_in_text_is_a_validation_error_on_postgresql(
    client: AsyncTestClient[Litestar], tenant: Tenant, database: Database
) -> None:
    """PostgreSQL cannot store NUL in text: such input is a 400 validation_error, never a 500."""
    if not database.is_postgres:
        pytest.skip("SQLite stores NUL in text")
    found = await client.get("/v1/events", params={"customer_id": "\x00"}, headers=tenant.headers())
    assert "NUL" in assert_error(found, 400, "validation_error")["error_message"]
    made = await client.post("/v1/keys", json={"name": "bubble\x00"}, headers=tenant.headers())
    assert_error(made, 400, "validation_error")


async def test_deeply_nested_json_is_validation_error(
    client: AsyncTestClient[Litestar], tenant: Tenant
) -> None:
    """JSON nested deeper than the decoder recurses answers 400 validation_error, not a 500."""
    headers = {**tenant.headers(), "Content-Type": "application/json"}
    nested = b"[" * 100_000 + b"]" * 100_000
    body = assert_error(
        await client.post("/v1/keys", content=nested, headers=headers), 400, "validation_error"
    )
    assert "nested too deeply" in body["error_message"]
