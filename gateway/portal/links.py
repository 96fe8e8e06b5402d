"""Portal links: signed, expiring URLs that mint a fresh portal session each time they are opened.

The token is an ``itsdangerous`` signature (HMAC-SHA256 under a key derived from
``GATEWAY_SECRET_KEY`` for this purpose only) over the workspace, customer, preset, flow and
return URL, with its own expiry. Rotating the secret key keeps older links working while the old
key is still listed.
"""

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from gateway.portal.checks import PortalAsk, check_flow, check_return_url
from gateway.portal.sessions import Portal
from gateway.presets import AUTO
from gateway.vault import derive_key

DEFAULT_TTL_S = 3600
MAX_TTL_S = 7 * 24 * 3600
_SALT = "portal-link-v1"


class LinkExpired(Exception):
    """The link was signed by this gateway but its time is up."""


class LinkInvalid(Exception):
    """The link was not signed by this gateway (mistyped, cut short or tampered with)."""


@dataclass(frozen=True)
class LinkClaims:
    """What a portal link stands for."""

    workspace_id: str
    customer: str
    preset: str
    flow: str
    return_url: str
    locale: str
    price: str
    subscription: str
    #: Unix seconds after which the link no longer opens.
    expires_at: int


class LinkSigner:
    """Signs and checks portal link tokens."""

    def __init__(self, secret_keys: Sequence[str]) -> None:
        # itsdangerous signs with the last key and accepts any: the newest goes last.
        keys = [derive_key(key, "portal-links") for key in reversed(secret_keys)]
        self._serializer = URLSafeTimedSerializer(keys, salt=_SALT)

    def sign(self, claims: LinkClaims) -> str:
        """The token for ``claims``."""
        return str(self._serializer.dumps(asdict(claims)))

    def verify(self, token: str, now: float | None = None) -> LinkClaims:
        """The claims of a valid, unexpired token; ``LinkExpired`` or ``LinkInvalid`` otherwise."""
        try:
            payload = self._serializer.loads(token, max_age=MAX_TTL_S + 60)
            claims = LinkClaims(**payload)
        except SignatureExpired as exc:
            raise LinkExpired from exc
        except (BadSignature, TypeError) as exc:
            raise LinkInvalid from exc
        if claims.expires_at < (time.time() if now is None else now):
            raise LinkExpired
        return claims


def ask_of(claims: LinkClaims) -> PortalAsk:
    """The portal request a link stands for."""
    return PortalAsk(
        customer=claims.customer,
        preset=claims.preset,
        return_url=claims.return_url,
        locale=claims.locale,
        flow=claims.flow,
        price=claims.price,
        subscription=claims.subscription,
    )


async def create_link(
    portal: Portal, signer: LinkSigner, workspace_id: str, ask: PortalAsk, expires_in: int
) -> tuple[LinkClaims, str, bool]:
    """Claims and token of a new link (checked now as a session would be), and the workspace's mode."""
    view = await portal.cache.view(workspace_id)
    if ask.preset != AUTO:
        named = view.catalog.get(ask.preset)
        check_flow(ask, named)
        check_return_url(ask, named, view, "")
    customer_id, _ = await portal.resolve_customer(view, ask, needs_subscription=False)
    claims = LinkClaims(
        workspace_id=workspace_id,
        customer=customer_id,
        preset=ask.preset,
        flow=ask.flow,
        return_url=ask.return_url,
        locale=ask.locale,
        price=ask.price,
        subscription=ask.subscription,
        expires_at=int(time.time()) + expires_in,
    )
    return claims, signer.sign(claims), view.workspace.livemode
