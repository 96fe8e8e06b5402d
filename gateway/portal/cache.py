"""What a portal request needs, kept in process memory so the steady state does no database work.

Per workspace: its row, its presets (files overlaid with its own) and its synced configurations,
loaded together and kept for ``TTL_S``. A change made through this process (a preset put, a sync)
applies at once; one made elsewhere (another process, a ``configuration.updated`` webhook) within
``TTL_S`` and one reload.
"""

import asyncio
import logging
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import NotFound
from gateway.inflight import InFlight
from gateway.models import PortalConfiguration, Workspace
from gateway.presets import Catalog, workspace_catalog
from gateway.presets.store import synced_configurations
from gateway.settings import Settings

logger = logging.getLogger(__name__)

TTL_S = 5.0
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

    A workspace's first request waits for one load (concurrent ones share it). Afterwards an expired
    view keeps serving while one load refreshes it in the background, so requests never queue
    behind the database.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._views: dict[str, WorkspaceView] = {}
        self._loading: InFlight[str, WorkspaceView] = InFlight()
        self._generations: dict[str, int] = {}
        #: Seconds a view is trusted before it is read again.
        self.ttl = TTL_S

    async def view(self, workspace_id: str) -> WorkspaceView:
        """The workspace's view, from memory (refreshed behind the scenes once expired)."""
        view = self._views.get(workspace_id)
        if view is None:
            # Shielded: one caller going away must not cancel the load others are waiting for.
            return await asyncio.shield(self._load(workspace_id))
        if view.expires <= time.monotonic():
            self._load(workspace_id)
        return view

    def _load(self, workspace_id: str) -> "asyncio.Task[WorkspaceView]":
        """The one load in flight for the workspace (started if none is)."""
        return self._loading.start(workspace_id, lambda: self._load_and_keep(workspace_id))

    async def _load_and_keep(self, workspace_id: str) -> WorkspaceView:
        generation = self._generations.get(workspace_id, 0)
        try:
            view = await self._read(workspace_id)
        except WorkspaceGone:
            self._views.pop(workspace_id, None)
            raise
        except Exception:
            stale = self._views.get(workspace_id)
            if stale is None:
                raise
            # The database is unreachable: keep serving what was known rather than failing every request.
            logger.warning("workspace reload failed; using the cached view", exc_info=True)
            stale.expires = time.monotonic() + self.ttl
            return stale
        finally:
            self._loading.finish(workspace_id)
        if generation == self._generations.get(workspace_id, 0):  # not forgotten meanwhile
            if len(self._views) >= MAX_WORKSPACES:
                self._views.clear()
            self._views[workspace_id] = view
        return view

    async def _read(self, workspace_id: str) -> WorkspaceView:
        async with self._sessions() as session:
            workspace = await session.get(Workspace, workspace_id)
            if workspace is None:
                msg = "This workspace no longer exists."
                raise WorkspaceGone(msg)
            catalog = await workspace_catalog(session, self._settings, workspace_id)
            configurations = await synced_configurations(session, workspace_id)
        return WorkspaceView(workspace, catalog, configurations, time.monotonic() + self.ttl)

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
