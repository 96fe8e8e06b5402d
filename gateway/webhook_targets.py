"""Where Stripe events go: each workspace with its webhook signing secrets, cached for a few seconds.

An entry is trusted for ``CACHE_TTL_S`` and never served past it: a secret dropped in another process
stops working within that time. In its last ``REFRESH_AHEAD_S`` an entry still answers while it is read
again in the background, so under steady traffic no event waits for the database. Those reads are
gathered: every entry due goes in one query, however many workspaces there are, with the entries
due within the next second, so that entries first loaded at scattered moments come to expire
together. With 100 workspaces, a session and query for each was 25 loads a second; with the portal
views' reloads (``gateway.portal.cache``), a seventh of the serving thread's time. After a quiet spell
longer than the TTL, the entries the first burst of events asks for are loaded in one query too.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.inflight import Batched, GatheredReads, InFlight
from gateway.models import Workspace
from gateway.vault import Vault
from gateway.workspaces import webhook_secrets

logger = logging.getLogger(__name__)

CACHE_TTL_S = 5.0
#: An entry this close to expiring is read again in the background, while it still serves.
REFRESH_AHEAD_S = 1.0
MAX_CACHED = 10_000
MAX_WORKSPACE_ID = 40


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A workspace that receives Stripe events, with its signing secrets decrypted."""

    workspace: Workspace
    secrets: tuple[str, ...]


class WebhookTargets:
    """Workspaces by ID with their secrets, cached for a few seconds: no database work per event.

    When an entry is missing or expired, the events that need it share one load (the 50 requests in
    flight used to each load the workspace whenever its entry expired).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        vault: Vault,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._clock = clock
        self._cache: dict[str, tuple[WebhookTarget | None, float]] = {}
        self._loading: InFlight[str, WebhookTarget | None] = InFlight()
        self._generation = 0
        #: Entries near expiry, read again together (one query for all of them).
        self._rereads = GatheredReads(self._reread, joining=self._due_soon)
        #: Entries missing or expired, loaded together when asked for at once (after a quiet spell).
        self._batch: Batched[str, WebhookTarget] = Batched(self._load_many)

    async def get(self, workspace_id: str) -> WebhookTarget | None:
        """The workspace's target, or None when there is no such workspace."""
        if len(workspace_id) > MAX_WORKSPACE_ID:
            return None
        cached, now = self._cache.get(workspace_id), self._clock()
        if cached is not None and cached[1] > now:
            if cached[1] - now < REFRESH_AHEAD_S:
                self._rereads.add(workspace_id)
            return cached[0]
        # Shielded: one sender hanging up must not cancel the load the others wait for.
        return await asyncio.shield(
            self._loading.start(workspace_id, lambda: self._load_and_keep(workspace_id))
        )

    def forget(self, workspace_id: str) -> None:
        """Read the workspace again on its next event (its secrets changed in this process)."""
        self._generation += 1  # a load begun before this must not put the old secrets back
        self._cache.pop(workspace_id, None)
        self._loading.drop(workspace_id)

    def _due_soon(self) -> list[str]:
        """Entries whose refresh window opens within the next ``REFRESH_AHEAD_S``."""
        horizon = self._clock() + 2 * REFRESH_AHEAD_S
        return [workspace_id for workspace_id, (_, expires) in self._cache.items() if expires < horizon]

    async def _reread(self, workspace_ids: list[str]) -> None:
        generation = self._generation
        try:
            found = await self._load_many(workspace_ids)
        except Exception:
            # The entries expire as usual; the next event for one then loads it itself.
            logger.warning("reading workspaces ahead of expiry failed", exc_info=True)
            return
        if generation == self._generation:
            expires = self._clock() + CACHE_TTL_S
            for workspace_id in workspace_ids:
                self._keep(workspace_id, found.get(workspace_id), expires)

    async def _load_and_keep(self, workspace_id: str) -> WebhookTarget | None:
        generation = self._generation
        try:
            target = await self._batch.load(workspace_id)
        finally:
            self._loading.finish(workspace_id)
        if generation == self._generation:
            self._keep(workspace_id, target, self._clock() + CACHE_TTL_S)
        return target

    def _keep(self, workspace_id: str, target: WebhookTarget | None, expires: float) -> None:
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[workspace_id] = (target, expires)

    async def _load_many(self, workspace_ids: Sequence[str]) -> dict[str, WebhookTarget]:
        """The targets of those of ``workspace_ids`` that exist."""
        async with self._sessions() as session:
            query = select(Workspace).where(col(Workspace.id).in_(workspace_ids))
            workspaces = (await session.exec(query)).all()
        return {
            workspace.id: WebhookTarget(workspace, tuple(webhook_secrets(self._vault, workspace)))
            for workspace in workspaces
        }
