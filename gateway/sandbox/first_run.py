"""The first ``make run``: with no workspace, a development gateway makes one backed by its sandbox.

Once: a sandbox workspace whose Stripe is the sandbox mounted in the same process
(``{GATEWAY_PUBLIC_URL}/sandbox/stripe``), seed data, the gateway's own webhook endpoint registered
in the sandbox with its signing secret stored in the workspace, and the API key kept in
``{GATEWAY_DATA_DIR}/sandbox.json``. Never in production.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import ValidationFailed
from gateway.event_facts import HANDLED_EVENTS
from gateway.keys import create_key
from gateway.models import Workspace
from gateway.sandbox.app import STATE_FILE
from gateway.sandbox.core import Sandbox
from gateway.sandbox.seed import seed
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.workspaces import create_workspace, set_webhook_secrets, webhook_url

SANDBOX_FILE = "sandbox.json"
WORKSPACE_NAME = "sandbox"
#: What the gateway's own endpoint listens to: the events it handles.
WEBHOOK_EVENTS = list(HANDLED_EVENTS)


@dataclass
class SandboxWorkspace:
    """What the first run made, as kept in ``sandbox.json``."""

    workspace_id: str
    api_key: str
    portal_key: str
    stripe_secret_key: str
    stripe_api_base: str
    webhook_url: str
    customers: dict[str, str] = field(default_factory=dict)
    subscriptions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, settings: Settings) -> "SandboxWorkspace | None":
        """The saved first-run details, if any."""
        path = settings.data_dir / SANDBOX_FILE
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return cls(**data)

    def write(self, settings: Settings) -> Path:
        """Keep the details (they hold keys: readable by the owner only)."""
        path = settings.data_dir / SANDBOX_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        path.chmod(0o600)
        return path


async def make_sandbox_workspace(
    session: AsyncSession, vault: Vault, settings: Settings
) -> SandboxWorkspace | None:
    """Make the sandbox workspace when there is no workspace at all; None when there is one already."""
    if settings.env == "production":
        msg = "Sandbox workspaces are refused when GATEWAY_ENV=production."
        raise ValidationFailed(msg, field="sandbox")
    if (await session.exec(select(Workspace.id).limit(1))).first() is not None:
        return None
    # A fresh sandbox even if an older state file is left over (a first run that never committed).
    sandbox = Sandbox(public_url=settings.public_url)
    api_base = f"{settings.public_url}/sandbox/stripe"
    workspace, api_key = await create_workspace(
        session,
        vault,
        settings,
        name=WORKSPACE_NAME,
        stripe_key=sandbox.secret_key,
        api_base=api_base,
        sandbox=True,
    )
    _, portal_key = await create_key(session, workspace=workspace, scope="portal", name="sandbox portal key")
    url = webhook_url(settings, workspace.id)
    endpoint = sandbox.call("POST", "/v1/webhook_endpoints", {"url": url, "enabled_events": WEBHOOK_EVENTS})
    set_webhook_secrets(vault, workspace, [endpoint["secret"]])
    workspace.stripe_webhook_endpoint_id = endpoint["id"]
    session.add(workspace)
    seeded = seed(sandbox)  # its events wait in the sandbox until the gateway serves, then arrive
    sandbox.store.path = settings.data_dir / STATE_FILE
    sandbox.store.save()
    made = SandboxWorkspace(
        workspace_id=workspace.id,
        api_key=api_key,
        portal_key=portal_key,
        stripe_secret_key=sandbox.secret_key,
        stripe_api_base=api_base,
        webhook_url=url,
        customers=seeded.customers,
        subscriptions=seeded.subscriptions,
    )
    made.write(settings)
    return made


def welcome(settings: Settings, made: SandboxWorkspace, *, first: bool) -> str:
    """What ``gateway serve`` prints about the sandbox workspace: the key and a curl to try."""
    customer = made.customers.get("grace@example.com") or next(iter(made.customers.values()), "cus_...")
    path = settings.data_dir / SANDBOX_FILE
    if not first:
        return f"Sandbox workspace {made.workspace_id}: its API key is in {path}"
    body = json.dumps({"customer": customer, "preset": "default"})
    return "\n".join(
        [
            "",
            (
                "Sandbox mode: no workspace was configured, so one was made, backed by the built-in Stripe "
                "sandbox."
            ),
            f"  workspace   {WORKSPACE_NAME} ({made.workspace_id})",
            f"  API key     {made.api_key}   (admin; also kept in {path})",
            f"  Stripe      {made.stripe_api_base}   (secret key {made.stripe_secret_key})",
            "",
            "Get a customer portal URL:",
            f"  curl -s -X POST {settings.public_url}/v1/portal-sessions \\",
            f'    -H "Authorization: Bearer {made.api_key}" -H "Content-Type: application/json" \\',
            f"    -d '{body}'",
            "",
        ]
    )
