"""The builder's console at ``/console``: server-rendered pages over the same services as the JSON API.

Jinja templates, one stylesheet, no JavaScript. Signed in with an admin API key (``session``); every
form carries a CSRF token checked before any handler runs. Not part of the JSON API: outside the API
key middleware and ``openapi.yaml``, and its errors are pages, not JSON.
"""

from litestar import Router
from litestar.di import Provide
from litestar.static_files import create_static_files_router

from gateway.console import access, deliveries, events, overview, presets, subscribers
from gateway.console.pages import HERE, SECURITY_HEADERS, check_csrf, handle_error, template_config
from gateway.console.session import provide_admin

__all__ = ["console_router", "template_config"]


def console_router() -> Router:
    """Every console page and its stylesheet, under ``/console``."""
    static = create_static_files_router(path="/static", directories=[HERE / "static"], name="console-static")
    handlers = [
        *access.HANDLERS,
        *overview.HANDLERS,
        *presets.HANDLERS,
        *subscribers.HANDLERS,
        *deliveries.HANDLERS,
        *events.HANDLERS,
    ]
    return Router(
        path="/console",
        route_handlers=[*handlers, static],
        dependencies={"admin": Provide(provide_admin)},
        before_request=check_csrf,
        exception_handlers={Exception: handle_error},
        response_headers=SECURITY_HEADERS,
        include_in_schema=False,
        opt={"exclude_from_auth": True},
    )
