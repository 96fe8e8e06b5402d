"""Idempotency-Key on POST: the first answer is replayed; a different request with the key is refused."""

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import ApiKey, IdempotencyRecord
from tests.support import Tenant, assert_error

pytestmark = pytest.mark.anyio


async def test_same_key_same_request_replays(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """Retrying a POST with the same key returns the first answer and creates nothing new."""
    headers = {**tenant.headers(), "Idempotency-Key": "create-zapier-key"}
    first = await client.post("/v1/keys", json={"name": "zapier"}, headers=headers)
    second = await client.post("/v1/keys", json={"name": "zapier"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    async with db() as session:
        names = [k.name for k in (await session.exec(select(ApiKey))).all()]
    assert names.count("zapier") == 1


async def test_same_key_other_request_conflicts(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """The same key with a different body answers 409 idempotency_conflict."""
    headers = {**tenant.headers(), "Idempotency-Key": "k1"}
    assert (await client.post("/v1/keys", json={"name": "a"}, headers=headers)).status_code == 201
    assert_error(
        await client.post("/v1/keys", json={"name": "b"}, headers=headers), 409, "idempotency_conflict"
    )


async def test_keys_are_per_workspace(
    client: AsyncTestClient[Litestar], tenant: Tenant, other_tenant: Tenant
) -> None:
    """Two workspaces may use the same Idempotency-Key independently."""
    for who in (tenant, other_tenant):
        headers = {**who.headers(), "Idempotency-Key": "shared"}
        response = await client.post("/v1/keys", json={"name": "x"}, headers=headers)
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers


async def test_errors_are_replayed_too_but_not_stored_in_plaintext(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """A 4xx answer is replayed like a success; stored answers are encrypted (they may hold a new key)."""
    headers = {**tenant.headers(), "Idempotency-Key": "k2"}
    created = await client.post("/v1/keys", json={"name": "secret-holder"}, headers=headers)
    async with db() as session:
        record = (await session.exec(select(IdempotencyRecord))).one()
    assert created.json()["api_key"] not in record.response_body
    bad = {**tenant.headers(), "Idempotency-Key": "k3"}
    first = await client.post("/v1/keys", json={"scope": "root"}, headers=bad)
    again = await client.post("/v1/keys", json={"scope": "root"}, headers=bad)
    assert first.status_code == again.status_code == 400
    assert again.headers["idempotent-replayed"] == "true"


async def test_overlong_key_is_refused(client: AsyncTestClient[Litestar], tenant: Tenant) -> None:
    """An Idempotency-Key over 255 characters answers validation_error."""
    headers = {**tenant.headers(), "Idempotency-Key": "k" * 256}
    assert_error(await client.post("/v1/keys", json={}, headers=headers), 400, "validation_error")


async def test_another_key_cannot_replay_an_answer(
    client: AsyncTestClient[Litestar], tenant: Tenant, db: async_sessionmaker[AsyncSession]
) -> None:
    """A portal key repeating an admin's request and Idempotency-Key gets no replay of its answer.

    The replay happens before the route's scope check: were answers shared by the workspace's keys,
    a portal key could read a new admin key (or a subscriber's new secret) out of it.
    """
    headers = {"Idempotency-Key": "new-admin-key"}
    made = await client.post(
        "/v1/keys", json={"name": "ops", "scope": "admin"}, headers={**tenant.headers(), **headers}
    )
    assert made.status_code == 201
    replayed = await client.post(
        "/v1/keys", json={"name": "ops", "scope": "admin"}, headers={**tenant.headers("portal"), **headers}
    )
    assert made.json()["api_key"] not in replayed.text
    assert_error(replayed, 409, "idempotency_conflict")
    async with db() as session:
        names = [k.name for k in (await session.exec(select(ApiKey))).all()]
    assert names.count("ops") == 1
