"""Authentication (middleware: who is calling) and authorization (guards: may they).

Keys arrive as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. Lookups are cached for a
few seconds so the hot path does no database work; revoking a key clears it from this process's
cache at once and from every other process's within ``CACHE_TTL_S`` (plus one lookup's time). A
key's first uses share one lookup; an expired entry keeps answering while one lookup refreshes it,
instead of every request in flight querying at once (a stall every ``CACHE_TTL_S`` under load, seen
in ``make bench``).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import ForbiddenScope, Unauthorized
from gateway.inflight import InFlight
from gateway.keys import Scope, find_active_key, hash_key, record_key_use
from gateway.models import utcnow
from gateway.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

CACHE_TTL_S = 5.0
MAX_CACHED = 10_000


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: one API key of one workspace."""

    key_id: str
    workspace_id: str
    scope: Scope
    livemode: bool


class Authenticator:
    """Resolves raw keys to principals, with a short-lived cache and buffered ``last_used_at``.

    A key's first use waits for one database lookup (concurrent first uses share it). After
    ``CACHE_TTL_S`` the cached answer keeps being used while one lookup refreshes it in the
    background, so requests never queue behind the database once a key is known.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        limiter: RateLimiter,
        *,
        reads: async_sessionmaker[AsyncSession],
    ) -> None:
        self._sessions = session_factory
        #: For key lookups: sessions that never hold SQLite's write lock (``make_read_session_factory``).
        self._reads = reads
        self.limiter = limiter
        self._cache: dict[str, tuple[Principal | None, float]] = {}
        self._loading: InFlight[str, Principal | None] = InFlight()
        self._generation = 0
        self._used: dict[str, datetime] = {}

    async def authenticate(self, raw_key: str) -> Principal:
        """The principal for ``raw_key``; ``Unauthorized`` when unknown or revoked."""
        digest = hash_key(raw_key)
        cached = self._cache.get(digest)
        if cached is None:
            # Shielded: one caller going away must not cancel the lookup others are waiting for.
            principal = await asyncio.shield(self._load(raw_key, digest))
        else:
            principal = cached[0]
            if cached[1] <= time.monotonic():
                self._load(raw_key, digest)  # refreshed in the background; this answer stands meanwhile
        if principal is None:
            msg = "Unknown or revoked API key."
            raise Unauthorized(msg)
        self.limiter.hit(principal.key_id)
        self._used[principal.key_id] = utcnow()
        return principal

    def _load(self, raw_key: str, digest: str) -> "asyncio.Task[Principal | None]":
        """The one lookup in flight for ``digest`` (started if none is)."""
        return self._loading.start(digest, lambda: self._lookup_and_cache(raw_key, digest))

    async def _lookup_and_cache(self, raw_key: str, digest: str) -> Principal | None:
        generation = self._generation
        try:
            principal = await self._lookup(raw_key)
        except Exception:
            stale = self._cache.get(digest)
            if stale is None:
                raise
            # The database is unreachable: keep answering as before rather than failing every request.
            logger.warning("API key lookup failed; using the cached answer", exc_info=True)
            principal = stale[0]
        finally:
            self._loading.finish(digest)
        if generation == self._generation:  # not forgotten meanwhile (a revocation)
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[digest] = (principal, time.monotonic() + CACHE_TTL_S)
        return principal

    async def _lookup(self, raw_key: str) -> Principal | None:
        async with self._reads() as session:
            found = await find_active_key(session, raw_key)
        if found is None:
            return None
        key, workspace = found
        scope: Scope = "admin" if key.scope == "admin" else "portal"
        return Principal(key_id=key.id, workspace_id=workspace.id, scope=scope, livemode=workspace.livemode)

    def forget(self) -> None:
        """Drop every cached lookup (after a key is revoked); lookups in flight are not kept either."""
        self._generation += 1
        self._cache.clear()
        self._loading.clear()

    async def flush_usage(self) -> None:
        """Write the buffered ``last_used_at`` times."""
        used, self._used = self._used, {}
        if not used:
            return
        async with self._sessions() as session, session.begin():
            await record_key_use(session, used)


def raw_key_from(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The API key the request carries, or ""."""
    authorization = connection.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return connection.headers.get("x-api-key", "").strip()


class ApiKeyMiddleware(AbstractAuthenticationMiddleware):
    """Authenticates every route that is not marked ``exclude_from_auth``."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        """Resolve the request's key to a ``Principal``."""
        raw = raw_key_from(connection)
        if not raw:
            msg = "Missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'."
            raise Unauthorized(msg)
        authenticator: Authenticator = connection.app.state.authenticator
        return AuthenticationResult(user=await authenticator.authenticate(raw), auth=None)


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def requires_scope(scope: Scope) -> Guard:
    """A guard letting through keys of ``scope`` (``admin`` keys may do everything)."""

    async def guard(connection: ASGIConnection[Any, Principal, Any, Any], _: BaseRouteHandler) -> None:
        # async on purpose: Litestar runs sync guards in a thread pool.
        if scope == "admin" and connection.user.scope != "admin":
            msg = "This route needs an API key with the 'admin' scope."
            raise ForbiddenScope(msg)

    return guard


async def provide_principal(request: Request[Principal, Any, Any]) -> Principal:
    """The authenticated caller, for handlers (``principal: NamedDependency[Principal]``)."""
    principal: Principal = request.user
    return principal
