"""Signing in with an admin API key, and signing out."""

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.auth import Authenticator
from gateway.console.pages import local, page
from gateway.console.session import NotSignedIn, cookies_of, new_visit, provide_admin
from gateway.errors import RateLimited, Unauthorized


@get("/sign-in", name="console-sign-in")
async def sign_in_page(
    request: Request[Any, Any, State],
    session: NamedDependency[AsyncSession],
    next_path: Annotated[str, QueryParameter(name="next")] = "",
) -> Response[Any]:
    """The sign-in form (straight on to the console when already signed in)."""
    try:
        await provide_admin(request, session)
        return Redirect(local(next_path), status_code=303)
    except NotSignedIn:
        pass
    cookies = cookies_of(request.app.state)
    visit = cookies.read(request)
    if visit is None or visit.key_id:
        visit = new_visit()
    answer = page("sign_in.html", request, None, csrf=visit.csrf, next_path=local(next_path), error="")
    answer.set_cookie(cookies.cookie(visit))
    return answer


@post("/sign-in", status_code=303)
async def sign_in(request: Request[Any, Any, State]) -> Response[Any]:
    """Exchange an admin API key for a session cookie (the key itself is never kept)."""
    form = await request.form()
    raw_key, next_path = str(form.get("api_key", "")).strip(), local(str(form.get("next", "")))
    authenticator: Authenticator = request.app.state.authenticator
    error = ""
    try:
        principal = await authenticator.authenticate(raw_key) if raw_key else None
    except (Unauthorized, RateLimited) as exc:
        principal, error = None, exc.message
    if principal is None:
        error = error or "Enter an admin API key (gw_test_... or gw_live_...)."
    elif principal.scope != "admin":
        error = "That is a portal key: the console needs a key with the admin scope."
    if error:
        cookies = cookies_of(request.app.state)
        visit = cookies.read(request)
        csrf = visit.csrf if visit else ""
        return page(
            "sign_in.html", request, None, status_code=401, csrf=csrf, next_path=next_path, error=error
        )
    assert principal is not None  # noqa: S101  (error is set otherwise)
    answer = Redirect(next_path, status_code=303)
    answer.set_cookie(cookies_of(request.app.state).cookie(new_visit(principal.key_id)))
    return answer


@post("/sign-out", status_code=303)
async def sign_out(request: Request[Any, Any, State]) -> Response[Any]:
    """Forget the session cookie."""
    answer = Redirect("/console/sign-in", status_code=303)
    answer.set_cookie(cookies_of(request.app.state).cleared())
    return answer


HANDLERS = [sign_in_page, sign_in, sign_out]
