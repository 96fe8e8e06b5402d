"""What a portal request needs, kept in process memory so the steady state does no database work.

Per workspace: its row, its presets (files overlaid with its own) and its synced configurations,
loaded together and kept for ``TTL_S``. A change made through this process (a preset put, a sync)
applies at once; one made elsewhere (another process, a ``configuration.updated`` webhook) within
``TTL_S``. Concurrent requests for an expired entry wait for one reload instead of each doing it.
"""

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import NotFound
from gateway.models import PortalConfiguration, Workspace
from gateway.presets import Catalog, workspace_catalog
from gateway.presets.store import synced_configurations
from gateway.settings import Settings

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
    """Workspace views by workspace ID, each reloaded from the database after ``TTL_S``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._views: dict[str, WorkspaceView] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        #: Seconds a view is trusted before it is read again.
        self.ttl = TTL_S

    async def view(self, workspace_id: str) -> WorkspaceView:
        """The workspace's view, from memory while fresh."""
        view = self._views.get(workspace_id)
        if view is not None and view.expires > time.monotonic():
            return view
        lock = self._locks.setdefault(workspace_id, asyncio.Lock())
        async with lock:
            view = self._views.get(workspace_id)
            if view is not None and view.expires > time.monotonic():
                return view
            view = await self._load(workspace_id)
            if len(self._views) >= MAX_WORKSPACES:
                self._views.clear()
            self._views[workspace_id] = view
            return view

    async def _load(self, workspace_id: str) -> WorkspaceView:
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
        """The workspace's presets changed: reload on next use."""
        self._views.pop(workspace_id, None)
