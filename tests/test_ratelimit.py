"""Per-key rate limiting: a token bucket per API key, 429 with Retry-After."""

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.app import create_app
from gateway.errors import RateLimited
from gateway.ratelimit import RateLimiter
from gateway.vault import Vault
from tests.support import Database, assert_error, make_settings, make_tenant

pytestmark = pytest.mark.anyio


def test_bucket_refills_over_time() -> None:
    """A burst of `capacity` passes, the next waits, and time refills the bucket."""
    now = [0.0]
    limiter = RateLimiter(3, 1.0, clock=lambda: now[0])
    for _ in range(3):
        limiter.hit("k")
    with pytest.raises(RateLimited) as caught:
        limiter.hit("k")
    assert caught.value.headers == {"Retry-After": "1"}
    limiter.hit("other")  # another key has its own bucket
    now[0] = 0.34
    limiter.hit("k")


async def test_http_429_per_key(
    tmp_path: Path, database: Database, db: async_sessionmaker[AsyncSession]
) -> None:
    """A key over its rate gets 429 with Retry-After; another key of the same workspace does not."""
    settings = make_settings(tmp_path, database, rate_limit=(2, 60.0))
    tenant = await make_tenant(db, Vault(settings.secret_keys()), settings, "busy")
    async with AsyncTestClient(create_app(settings)) as client:
        for _ in range(2):
            assert (await client.get("/v1/keys", headers=tenant.headers())).status_code == 200
        response = await client.get("/v1/keys", headers=tenant.headers())
        assert_error(response, 429, "rate_limited")
        assert int(response.headers["retry-after"]) == 30
        assert (await client.get("/v1/keys", headers=tenant.headers("portal"))).status_code == 403
