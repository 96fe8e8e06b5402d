"""``/sandbox/portal/{token}``: the portal page a session's ``url`` opens, and its actions.

It shows the customer, their subscriptions and what the session's configuration allows (cancel,
switch among the configured prices, change the quantity, invoices, payment method), honours
``flow_data`` deep links and ``return_url``, and changes state through the sandbox's own API, so
every action emits the events Stripe would.
"""

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, URLEncodedBody

from gateway.sandbox import portal_html as html
from gateway.sandbox.core import Sandbox
from gateway.sandbox.errors import StripeApiError
from gateway.sandbox.portal_sessions import IDLE_TTL_S, UNUSED_TTL_S
from gateway.sandbox.portal_views import View, flow_page, home_page
from gateway.sandbox.wire import Obj

_OPTIONS: dict[str, Any] = {
    "exclude_from_auth": True,
    "include_in_schema": False,
    "security": [],
    "tags": ["sandbox"],
}


def _html(content: str, status: int = 200) -> Response[str]:
    return Response(content, status_code=status, media_type="text/html; charset=utf-8")


def _open(sandbox: Sandbox, token: str) -> View | Response[str]:
    """The session behind ``token`` and what it shows; a page saying why not when it cannot be used."""
    state = sandbox.store.private.get(token) if token.startswith(("test_", "live_")) else None
    session = sandbox.store.objects.get(state["session"]) if state else None
    if state is None or session is None:
        return _html(html.page("Not found", "<h1>This portal link is not valid.</h1>"), 404)
    now = sandbox.store.now()
    unused_for = now - session["created"] if not state["last_activity"] else 0
    idle_for = now - state["last_activity"] if state["last_activity"] else 0
    if unused_for > UNUSED_TTL_S or idle_for > IDLE_TTL_S:
        body = "<h1>This portal session has expired.</h1><p>Go back to the app to open a new one.</p>"
        return _html(html.page("Session expired", body, return_url=session["return_url"]), 410)
    state["last_activity"] = now
    return View(sandbox, token, session, state)


@get(
    "/sandbox/portal/{token:str}", operation_id="sandboxPortalPage", summary="Sandbox portal page", **_OPTIONS
)
async def portal_page(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[str]:
    """The portal: the whole of it, or only the step a deep link names."""
    view = _open(request.app.state.sandbox, token)
    if isinstance(view, Response):
        return view
    notice = view.state.pop("notice", "")
    flow = view.session.get("flow")
    if flow and not view.state.get("flow_done"):
        return _html(flow_page(view, flow, notice))
    return _html(home_page(view, notice))


@post(
    "/sandbox/portal/{token:str}/{action:str}",
    operation_id="sandboxPortalAction",
    summary="Sandbox portal action",
    status_code=303,
    **_OPTIONS,
)
async def portal_action(
    request: Request[Any, Any, Any],
    token: FromPath[str],
    action: FromPath[str],
    data: URLEncodedBody[dict[str, str]],
) -> Response[str]:
    """Do what the customer asked, then back to the page (or wherever the deep link says)."""
    view = _open(request.app.state.sandbox, token)
    if isinstance(view, Response):
        return view
    try:
        notice = view.act(action, data)
    except StripeApiError as exc:
        view.state["notice"] = exc.message
        return _redirect(view.page_url)
    flow = view.session.get("flow")
    if flow and not view.state.get("flow_done"):
        view.state["flow_done"] = True
        after: Obj = flow["after_completion"]
        if after["type"] == "redirect":
            return _redirect(after["redirect"]["return_url"])
        if after["type"] == "hosted_confirmation":
            message = (after.get("hosted_confirmation") or {}).get("custom_message") or notice
            view.state["notice"] = message
            return _redirect(view.page_url)
    view.state["notice"] = notice
    return _redirect(view.page_url)


def _redirect(url: str) -> Response[str]:
    return Response("", status_code=303, headers={"Location": url})


HANDLERS = [portal_page, portal_action]
