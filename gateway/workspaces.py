"""Workspaces: one Stripe account in one mode, with its encrypted secrets and its keys."""

import json
import re

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.errors import NotFound, ValidationFailed
from gateway.ids import new_id
from gateway.keys import create_key
from gateway.models import Workspace
from gateway.presets.rules import is_http_url
from gateway.settings import Settings
from gateway.vault import Vault

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_STRIPE_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9_]{8,}$")


def stripe_key_livemode(stripe_key: str) -> bool:
    """Whether a Stripe secret or restricted key is a live-mode key (refusing anything else)."""
    match = _STRIPE_KEY.match(stripe_key)
    if match is None:
        msg = "A Stripe secret key looks like sk_test_... or sk_live_... (or rk_ for a restricted key)."
        raise ValidationFailed(msg, field="stripe_key")
    return match.group(2) == "live"


def webhook_url(settings: Settings, workspace_id: str) -> str:
    """Where Stripe must send this workspace's events."""
    return f"{settings.public_url}/v1/stripe/webhooks/{workspace_id}"


async def create_workspace(
    session: AsyncSession,
    vault: Vault,
    settings: Settings,
    *,
    name: str,
    stripe_key: str,
    webhook_secret: str = "",
    api_base: str = "",
    sandbox: bool = False,
) -> tuple[Workspace, str]:
    """A new workspace and its first ``admin`` key (raw, shown once)."""
    if not _NAME.match(name):
        msg = "A workspace name is 1-100 letters, digits, '-', '_' or '.'."
        raise ValidationFailed(msg, field="name")
    if sandbox and settings.env == "production":
        msg = "Sandbox workspaces are refused when GATEWAY_ENV=production."
        raise ValidationFailed(msg, field="sandbox")
    if webhook_secret and not webhook_secret.startswith("whsec_"):
        msg = "A Stripe webhook signing secret starts with whsec_."
        raise ValidationFailed(msg, field="webhook_secret")
    livemode = stripe_key_livemode(stripe_key)
    existing = await session.exec(select(Workspace.id).where(Workspace.name == name))
    if existing.first() is not None:
        msg = f"A workspace named {name!r} already exists."
        raise ValidationFailed(msg, field="name")
    workspace = Workspace(
        id=new_id("ws"),
        name=name,
        livemode=livemode,
        sandbox=sandbox,
        stripe_key_enc=vault.encrypt(stripe_key),
        webhook_secrets_enc=vault.encrypt(json.dumps([webhook_secret])) if webhook_secret else "",
        stripe_api_base=api_base.rstrip("/"),
    )
    session.add(workspace)
    await session.flush()
    _, raw_key = await create_key(session, workspace=workspace, scope="admin", name="created with workspace")
    return workspace, raw_key


async def list_workspaces(session: AsyncSession) -> list[Workspace]:
    """Every workspace, oldest first."""
    return list((await session.exec(select(Workspace).order_by(col(Workspace.id)))).all())


async def get_workspace(session: AsyncSession, workspace_id_or_name: str) -> Workspace:
    """A workspace by ID or by name."""
    query = select(Workspace).where(
        (Workspace.id == workspace_id_or_name) | (Workspace.name == workspace_id_or_name)
    )
    workspace = (await session.exec(query)).first()
    if workspace is None:
        msg = f"No workspace {workspace_id_or_name!r}."
        raise NotFound(msg)
    return workspace


def webhook_secrets(vault: Vault, workspace: Workspace) -> list[str]:
    """The workspace's Stripe webhook signing secrets, newest first (two while rotating)."""
    if not workspace.webhook_secrets_enc:
        return []
    secrets: list[str] = json.loads(vault.decrypt(workspace.webhook_secrets_enc))
    return secrets


def set_webhook_secrets(vault: Vault, workspace: Workspace, secrets: list[str]) -> None:
    """Store the workspace's webhook signing secrets, encrypted."""
    workspace.webhook_secrets_enc = vault.encrypt(json.dumps(secrets)) if secrets else ""


def add_webhook_secret(
    vault: Vault, workspace: Workspace, secret: str, *, keep_previous: bool = True
) -> None:
    """Make ``secret`` the newest signing secret (at most two are kept).

    The one it replaces keeps verifying, for a rotation, unless ``keep_previous`` is false.
    """
    if not secret.startswith("whsec_"):
        msg = "A Stripe webhook signing secret starts with whsec_."
        raise ValidationFailed(msg, field="webhook_secret")
    previous = webhook_secrets(vault, workspace)[:1] if keep_previous else []
    set_webhook_secrets(vault, workspace, [secret, *(s for s in previous if s != secret)])


def replace_stripe_key(vault: Vault, workspace: Workspace, stripe_key: str) -> None:
    """Use another Stripe secret key of the same mode (the workspace's API keys carry its mode)."""
    if stripe_key_livemode(stripe_key) != workspace.livemode:
        mode = "live" if workspace.livemode else "test"
        msg = f"This workspace is in {mode} mode: its new Stripe key must be a {mode}-mode key too."
        raise ValidationFailed(msg, field="stripe_key")
    workspace.stripe_key_enc = vault.encrypt(stripe_key)


def set_allowed_return_urls(workspace: Workspace, urls: list[str]) -> None:
    """Set the URL prefixes any preset's portal sessions may return to, besides the preset's own."""
    for url in urls:
        if not is_http_url(url):
            msg = f"{url!r} is not an http(s) URL with a host."
            raise ValidationFailed(msg, field="allowed_return_urls")
    workspace.allowed_return_urls = urls


def stripe_api_base(settings: Settings, workspace: Workspace) -> str:
    """The Stripe API base this workspace talks to."""
    return workspace.stripe_api_base or settings.stripe_api_base
