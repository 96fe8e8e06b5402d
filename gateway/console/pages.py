"""What every console page shares: rendering, redirects, notices, the CSRF check and error pages."""

import json
import logging
import posixpath
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from litestar import Request, Response
from litestar.datastructures import ResponseHeader, State
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig

from gateway.console.session import CSRF_FIELD, Admin, NotSignedIn, cookies_of, csrf_matches
from gateway.errors import GatewayError
from gateway.logs import REQUEST_ID
from gateway.responses import request_id_of
from gateway.timestamps import iso

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
#: Pages show a workspace's data: never cached, never framed, no script, styles from here only.
SECURITY_HEADERS = [
    ResponseHeader(name="Cache-Control", value="no-store"),
    ResponseHeader(
        name="Content-Security-Policy",
        value="default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
]
#: Messages a redirect may ask the next page to show (``?notice=...``; ``{n}`` from ``?n=``).
NOTICES = {
    "saved": "Saved.",
    "enabled": "Subscriber enabled.",
    "disabled": "Subscriber disabled: its pending deliveries were marked failed (recover them later).",
    "retried": "Retried now.",
    "retry-queued": "Queued to retry now; refresh to see the outcome.",
    "recovered": "{n} failed deliveries queued again.",
    "tested": "Test events sent: the results are below.",
    "test-queued": "Test events queued; the worker has not sent them yet. Refresh in a moment.",
    "synced": "Synced to Stripe.",
}


def template_config() -> TemplateConfig[Any]:
    """The console's Jinja templates (autoescaped), for ``create_app``."""
    from litestar.plugins.jinja import JinjaTemplateEngine  # noqa: PLC0415  (only when the app is built)

    def configure(engine: JinjaTemplateEngine) -> None:
        engine.engine.filters["when"] = when
        engine.engine.filters["pretty"] = pretty
        engine.engine.trim_blocks = engine.engine.lstrip_blocks = True

    return TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine, engine_callback=configure)


def when(moment: datetime | None, *, short: bool = False) -> str:
    """A moment as the console shows it (UTC, to the second; ``short``: to the minute, no zone), or a dash."""
    if moment is None:
        return "\u2013"
    shown = iso(moment).replace("T", " ")
    return shown[:16] if short else shown.replace("Z", " UTC")


def pretty(text: str) -> str:
    """JSON text indented for reading (other text as it is)."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def page(
    name: str,
    request: Request[Any, Any, Any],
    admin: Admin | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> Template:
    """Render template ``name`` with what every page needs (the admin, the CSRF token, the notice)."""
    notice = NOTICES.get(request.query_params.get("notice", ""), "")
    count = request.query_params.get("n", "")
    base = {
        "admin": admin,
        "csrf": admin.csrf if admin else context.pop("csrf", ""),
        "csrf_field": CSRF_FIELD,
        "notice": notice.format(n=count if count.isdigit() else "Some"),
        "path": request.url.path,
    }
    return Template(template_name=name, context={**base, **context}, status_code=status_code)


def see_other(path: str, **query: str | int) -> Redirect:
    """303 to a console path (after a form), with ``query`` (a notice, say)."""
    return Redirect(path, status_code=303, query_params={k: str(v) for k, v in query.items()} or None)


def local(target: str, default: str = "/console") -> str:
    """``target`` if it is a console path (a ``next`` after sign-in), else ``default``: no open redirect."""
    parts = urlsplit(target)
    path = parts.path
    inside = path == "/console" or (path.startswith("/console/") and posixpath.normpath(path) == path)
    if inside and not parts.scheme and not parts.netloc and "\\" not in target:
        return target
    return default


async def check_csrf(request: Request[Any, Any, State]) -> Response[Any] | None:
    """``before_request``: every POST carries the session's CSRF token, or is refused with a 403 page."""
    if request.method != "POST":
        return None
    form = await request.form()
    token = form.get(CSRF_FIELD, "")
    if csrf_matches(cookies_of(request.app.state).read(request), token if isinstance(token, str) else ""):
        return None
    message = (
        "This form has expired or did not come from this console. Go back, reload the page and try again."
    )
    return error_page(request, 403, "Form expired", message)


def error_page(request: Request[Any, Any, Any], status: int, title: str, message: str) -> Template:
    """A page saying what went wrong, with the request ID for the logs."""
    return Template(
        template_name="error.html",
        context={
            "admin": None,
            "title": title,
            "message": message,
            "request_id": request_id_of(request.scope),
            "path": request.url.path,
        },
        status_code=status,
    )


def handle_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Console errors as pages (the API's are JSON): sign in again, or what went wrong."""
    if isinstance(exc, NotSignedIn):
        # Back to the page after signing in; a form cannot be sent again, so after one: the overview.
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = quote(local(here) if request.method == "GET" else "/console")
        redirect = Redirect(f"/console/sign-in?next={target}", status_code=303)
        redirect.set_cookie(cookies_of(request.app.state).cleared())
        return redirect
    if isinstance(exc, GatewayError):
        return error_page(request, exc.status, "Something is not right", exc.message)
    if isinstance(exc, HTTPException):
        return error_page(request, exc.status_code, "Something is not right", exc.detail)
    REQUEST_ID.set(request_id_of(request.scope))
    logger.error("unhandled console error", exc_info=exc)
    message = "Something went wrong on our side; the request ID helps us find it."
    return error_page(request, 500, "Something went wrong", message)
