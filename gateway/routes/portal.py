"""``/v1/portal-sessions``, ``/v1/portal-links`` and ``/p/{token}``: portal URLs for no-code apps."""

from dataclasses import replace
from html import escape
from typing import Annotated, Any, Literal

import msgspec
from litestar import MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, HeaderParameter
from litestar.response import Redirect

from gateway.auth import Principal, requires_scope
from gateway.errors import CustomerNotFound, GatewayError, NotFound, PresetInvalid, ValidationFailed
from gateway.openapi import json_body
from gateway.portal.checks import PortalAsk
from gateway.portal.links import DEFAULT_TTL_S, MAX_TTL_S, LinkExpired, LinkInvalid, ask_of, create_link
from gateway.portal.sessions import Portal, PortalSession
from gateway.presets import DEFAULT_PRESET
from gateway.presets.schema import Flow
from gateway.responses import request_id_of
from gateway.settings import Settings
from gateway.timestamps import from_unix, iso, unix

Locale = Literal[
    "", "auto", "bg", "cs", "da", "de", "el", "en", "en-AU", "en-CA", "en-GB", "en-IE", "en-IN", "en-NZ",
    "en-SG", "es", "es-419", "et", "fi", "fil", "fr", "fr-CA", "hr", "hu", "id", "it", "ja", "ko", "lt", "lv",
    "ms", "mt", "nb", "nl", "pl", "pt", "pt-BR", "ro", "ru", "sk", "sl", "sv", "th", "tr", "vi", "zh",
    "zh-HK", "zh-TW",
]  # fmt: skip


class PortalFields(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Who the portal is for and what it offers; "" means not given."""

    #: A Stripe customer ID (``cus_...``); or send ``email`` or ``external_user_id`` instead.
    customer: str = ""
    email: str = ""
    #: Matched against the Stripe customer's metadata ``external_user_id``.
    external_user_id: str = ""
    #: A preset name, or ``auto`` to pick by the customer's current subscription.
    preset: str = "default"
    return_url: str = ""
    locale: Locale = ""
    flow: Flow | Literal[""] = ""
    #: For ``subscription_update_confirm``: the price (ID or lookup key) to switch to.
    price: str = ""
    #: For subscription flows: the subscription (default: the customer's current one).
    subscription: str = ""

    def ask(self) -> PortalAsk:
        """The portal request these fields make (text trimmed: no-code tools send stray spaces)."""
        given = {name: getattr(self, name) for name in PortalAsk.__dataclass_fields__}
        ask = PortalAsk(**{k: v.strip() if isinstance(v, str) else v for k, v in given.items()})
        return ask if ask.preset else replace(ask, preset=DEFAULT_PRESET)


class PortalSessionCreate(PortalFields, kw_only=True, forbid_unknown_fields=True):
    """A portal session request."""

    #: Answer a fully filled example without calling Stripe (also: header ``X-Dry-Run: 1``).
    dry_run: bool = False


class PortalLinkCreate(PortalFields, kw_only=True, forbid_unknown_fields=True):
    """A portal link request."""

    #: Seconds the link stays valid: 60 to 604800 (7 days); default 3600.
    expires_in: Annotated[int, msgspec.Meta(ge=60, le=MAX_TTL_S)] = DEFAULT_TTL_S


class PortalSessionOut(msgspec.Struct):
    """A portal URL: the same keys on every answer, never null (errors repeat them, empty)."""

    ok: bool
    url: str
    session_id: str
    preset: str
    configuration_id: str
    customer_id: str
    flow: str
    expires_at: str
    expires_at_unix: int
    livemode: bool
    request_id: str


class PortalLinkOut(msgspec.Struct):
    """A signed link that opens a fresh portal session each time until it expires."""

    ok: bool
    url: str
    preset: str
    customer_id: str
    flow: str
    expires_at: str
    expires_at_unix: int
    livemode: bool
    request_id: str


SESSION_ERROR_DEFAULTS: dict[str, Any] = {
    "url": "",
    "session_id": "",
    "preset": "",
    "configuration_id": "",
    "customer_id": "",
    "flow": "",
    "expires_at": "",
    "expires_at_unix": 0,
    "livemode": False,
}
LINK_ERROR_DEFAULTS: dict[str, Any] = {
    k: v for k, v in SESSION_ERROR_DEFAULTS.items() if k not in {"session_id", "configuration_id"}
}


def _out(session: PortalSession, request: Request[Any, Any, Any]) -> PortalSessionOut:
    return PortalSessionOut(
        ok=True,
        url=session.url,
        session_id=session.session_id,
        preset=session.preset,
        configuration_id=session.configuration_id,
        customer_id=session.customer_id,
        flow=session.flow,
        expires_at=iso(session.expires_at),
        expires_at_unix=unix(session.expires_at),
        livemode=session.livemode,
        request_id=request_id_of(request.scope),
    )


@post(
    "/v1/portal-sessions",
    operation_id="createPortalSession",
    tags=["portal"],
    summary="Create a portal session",
    status_code=200,
    # No scope guard: every key may make portal sessions (``portal`` and ``admin`` alike), and on the
    # hottest path a guard that lets everyone through still costs ~14 us a request.
    opt={"error_defaults": SESSION_ERROR_DEFAULTS},
)
async def create_portal_session(
    data: Annotated[PortalSessionCreate, json_body("createPortalSession")],
    request: Request[Principal, Any, State],
    dry_run_header: Annotated[str, HeaderParameter(name="x-dry-run", description="1: dry run")] = "",
) -> PortalSessionOut:
    """A Stripe Customer Portal URL for a customer and a preset, now.

    Errors carry the success keys too (empty), so a no-code call initialised on success keeps its
    schema; ``?errors_as_200=1`` answers them with 200 and ``ok: false``.
    """
    # The caller and the portal service are read off the request rather than injected: on the
    # hottest route, dependency injection measured ~15 us of the ~50 us the gateway adds per URL.
    portal: Portal = request.app.state.portal
    workspace_id = request.user.workspace_id
    if data.dry_run or dry_run_header.strip().lower() in {"1", "true", "yes"}:
        return _out(await portal.dry_run(workspace_id, data.ask()), request)
    return _out(await portal.create_session(workspace_id, data.ask()), request)


@post(
    "/v1/portal-links",
    operation_id="createPortalLink",
    tags=["portal"],
    summary="Create a portal link",
    status_code=200,
    guards=[requires_scope("portal")],
    opt={"error_defaults": LINK_ERROR_DEFAULTS},
)
async def create_portal_link(
    data: Annotated[PortalLinkCreate, json_body("createPortalLink")],
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    settings: NamedDependency[Settings],
    state: State,
) -> PortalLinkOut:
    """A signed link (default 1 hour, at most 7 days) that opens a fresh portal session when clicked.

    For buttons, e-mails and tools that can only open a URL. The link is bound to the customer,
    preset, flow and return URL given here.
    """
    claims, token, livemode = await create_link(
        state.portal, state.link_signer, principal.workspace_id, data.ask(), data.expires_in
    )
    return PortalLinkOut(
        ok=True,
        url=f"{settings.public_url}/p/{token}",
        preset=claims.preset,
        customer_id=claims.customer,
        flow=claims.flow,
        expires_at=iso(from_unix(claims.expires_at)),
        expires_at_unix=claims.expires_at,
        livemode=livemode,
        request_id=request_id_of(request.scope),
    )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}}
h1{{font-size:1.3rem}}</style></head>
<body><h1>{title}</h1><p>{message}</p></body></html>
"""
_PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


#: The pages ``/p/{token}`` may answer instead of the redirect (for OpenAPI).
PAGES = (
    (400, "An HTML page: the link is not valid (forged or cut short)"),
    (404, "An HTML page: the customer is not found"),
    (410, "An HTML page: the link expired, or no longer works (workspace or preset gone or changed)"),
    (503, "An HTML page: Stripe is unavailable; try again in a minute"),
)


def page(title: str, message: str, status: int) -> Response[str]:
    """A small HTML page for people who opened a link in a browser."""
    body = _PAGE.format(title=escape(title), message=escape(message))
    return Response(body, status_code=status, media_type=MediaType.HTML, headers=_PAGE_HEADERS)


@get(
    "/p/{token:str}",
    operation_id="openPortalLink",
    tags=["portal"],
    summary="Open a portal link",
    exclude_from_auth=True,
    security=[],
    status_code=303,
    media_type=MediaType.HTML,
    responses={
        303: ResponseSpec(None, description="To a fresh Stripe portal session (``Location``)"),
        **{
            status: ResponseSpec(str, generate_examples=False, media_type=MediaType.HTML, description=what)
            for status, what in PAGES
        },
    },
)
async def open_portal_link(token: FromPath[str], state: State) -> Response[Any]:
    """303 to a fresh portal session; an expired, forged or orphaned link shows a page saying what to do."""
    try:
        claims = state.link_signer.verify(token)
        session = await state.portal.create_session(claims.workspace_id, ask_of(claims))
    except (LinkExpired, LinkInvalid, GatewayError) as exc:
        return refusal(exc)
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return Redirect(session.url, status_code=303, headers=headers)


_AGAIN = "Go back to the app and open your billing page again."
_REFUSALS: tuple[tuple[type[Exception] | tuple[type[Exception], ...], str, str, int], ...] = (
    (LinkExpired, "This link has expired", _AGAIN, 410),
    (LinkInvalid, "This link is not valid", f"The link is incomplete or was changed. {_AGAIN}", 400),
    (CustomerNotFound, "Billing account not found", "Go back to the app and contact its support.", 404),
    # The workspace is gone, or the preset was removed or changed since the link was made.
    ((NotFound, PresetInvalid, ValidationFailed), "This link no longer works", _AGAIN, 410),
)


def refusal(exc: Exception) -> Response[str]:
    """The page for a link that cannot be opened (now, or ever)."""
    for kinds, title, message, status in _REFUSALS:
        if isinstance(exc, kinds):
            return page(title, message, status)
    return page("Billing is unavailable right now", "Please try again in a minute.", 503)


@get(
    "/p/return",
    operation_id="portalReturn",
    tags=["portal"],
    summary="Where the portal returns to when no return URL is set",
    exclude_from_auth=True,
    security=[],
    media_type=MediaType.HTML,
)
async def portal_return() -> Response[str]:
    """The portal's "return" link when neither the request nor the preset gives a return URL."""
    return page("All done", "You can close this tab and go back to the app.", 200)
