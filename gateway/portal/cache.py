"""What a portal request needs, kept in process memory so the steady state does no database work.

Per workspace: its row, its presets (files overlaid with its own) and its synced configurations,
loaded together and kept for ``TTL_S``; expired views are read again together in the background,
with those about to expire, so that views loaded at scattered moments come to expire together. A
change made through this process (a preset put, a sync) applies at once; one made elsewhere (another
process, a ``configuration.updated`` webhook) within ``TTL_S`` and one reload.
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import NotFound
from gateway.inflight import Batched, GatheredReads, InFlight
from gateway.models import PortalConfiguration, Workspace
from gateway.presets import Catalog
from gateway.presets.store import synced_configurations_of, workspace_catalogs
from gateway.settings import Settings

logger = logging.getLogger(__name__)

TTL_S = 5.0
#: A view this close to expiring is read along with any expired one.
JOIN_AHEAD_S = 1.0
MAX_WORKSPACES = 10_000


@dataclass
class WorkspaceView:
    """One workspace as a portal request sees it."""

    workspace: Workspace
    catalog: Catalog
    configurations: dict[str, PortalConfiguration]
    expires: float


class WorkspaceGone(NotFound):
    """The workspace was deleted (a portal link may outlive it)."""


class PortalCache:
    """Workspace views by workspace ID, each read again from the database after ``ttl`` seconds.

    A workspace's first request waits for one load (concurrent ones share it, and first requests for
    several workspaces in the same turn of the loop share one read). Afterwards an expired
    view keeps serving while it is read again in the background, so requests never queue behind the
    database. Those reads are gathered: every view due goes in one read (three queries), however many
    workspaces there are (one read each was 60 queries a second with 100 workspaces).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._views: dict[str, WorkspaceView] = {}
        self._loading: InFlight[str, WorkspaceView] = InFlight()
        self._generations: dict[str, int] = {}
        #: Expired views, read again together (three queries for all of them).
        self._rereads = GatheredReads(self._reread, joining=self._expiring_soon)
        #: Views not held yet, read together when asked for at once (a first burst of requests).
        self._batch: Batched[str, WorkspaceView] = Batched(self._read)
        #: Seconds a view is trusted before it is read again.
        self.ttl = TTL_S

    async def view(self, workspace_id: str) -> WorkspaceView:
        """The workspace's view, from memory (refreshed behind the scenes once expired)."""
        view = self._views.get(workspace_id)
        if view is None:
            # Shielded: one caller going away must not cancel the load others are waiting for.
            return await asyncio.shield(
                self._loading.start(workspace_id, lambda: self._load_and_keep(workspace_id))
            )
        if view.expires <= time.monotonic():
            self._rereads.add(workspace_id)
        return view

    async def _load_and_keep(self, workspace_id: str) -> WorkspaceView:
        generation = self._generations.get(workspace_id, 0)
        try:
            view = await self._batch.load(workspace_id)
        finally:
            self._loading.finish(workspace_id)
        if view is None:
            self._views.pop(workspace_id, None)
            msg = "This workspace no longer exists."
            raise WorkspaceGone(msg)
        if generation == self._generations.get(workspace_id, 0):  # not forgotten meanwhile
            self._keep(workspace_id, view)
        return view

    def _expiring_soon(self) -> list[str]:
        """Views expiring within ``JOIN_AHEAD_S``: read along with an expired one, they expire together."""
        horizon = time.monotonic() + JOIN_AHEAD_S
        return [workspace_id for workspace_id, view in self._views.items() if view.expires < horizon]

    async def _reread(self, workspace_ids: list[str]) -> None:
        generations = {workspace_id: self._generations.get(workspace_id, 0) for workspace_id in workspace_ids}
        try:
            views = await self._read(workspace_ids)
        except Exception:
            # The database is unreachable: keep serving what was known rather than failing requests.
            logger.warning("workspace reload failed; using the cached views", exc_info=True)
            for workspace_id in workspace_ids:
                if (stale := self._views.get(workspace_id)) is not None:
                    stale.expires = time.monotonic() + self.ttl
            return
        for workspace_id in workspace_ids:
            if generations[workspace_id] != self._generations.get(workspace_id, 0):
                continue  # forgotten meanwhile: its next request loads it
            if workspace_id in views:
                self._keep(workspace_id, views[workspace_id])
            else:  # deleted
                self._views.pop(workspace_id, None)

    def _keep(self, workspace_id: str, view: WorkspaceView) -> None:
        if len(self._views) >= MAX_WORKSPACES:
            self._views.clear()
        self._views[workspace_id] = view

    async def _read(self, workspace_ids: Sequence[str]) -> dict[str, WorkspaceView]:
        """The views of those of ``workspace_ids`` that exist."""
        async with self._sessions() as session:
            query = select(Workspace).where(col(Workspace.id).in_(workspace_ids))
            workspaces = (await session.exec(query)).all()
            ids = [workspace.id for workspace in workspaces]
            catalogs = await workspace_catalogs(session, self._settings, ids)
            configurations = await synced_configurations_of(session, ids)
        expires = time.monotonic() + self.ttl
        return {w.id: WorkspaceView(w, catalogs[w.id], configurations[w.id], expires) for w in workspaces}

    def remember(self, workspace_id: str, configuration: PortalConfiguration) -> None:
        """A configuration was just synced: use it at once."""
        view = self._views.get(workspace_id)
        if view is not None:
            view.configurations[configuration.preset] = configuration

    def forget(self, workspace_id: str) -> None:
        """The workspace's presets changed here: read them again on next use (never a load begun before)."""
        self._generations[workspace_id] = self._generations.get(workspace_id, 0) + 1
        self._views.pop(workspace_id, None)
        self._loading.drop(workspace_id)
