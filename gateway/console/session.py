"""Console sessions: an admin API key exchanged for a signed cookie, and a CSRF token on every form.

The cookie (HttpOnly, SameSite=Strict, ``Secure`` when ``GATEWAY_PUBLIC_URL`` is https) holds the
key's ID and the session's CSRF token, signed with ``itsdangerous`` under a key derived from
``GATEWAY_SECRET_KEY`` for this use only; never the API key itself. Every request looks the key up
again, so revoking it ends its console sessions at once, in every process. A visitor who has not
signed in yet gets a cookie with a CSRF token only, so the sign-in form is protected too.
"""

import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from litestar import Request
from litestar.datastructures import Cookie, State
from litestar.di import NamedDependency
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.keys import find_active_key_by_id
from gateway.models import ApiKey, Workspace
from gateway.settings import Settings
from gateway.vault import derive_key

COOKIE = "gateway_console"
PATH = "/console"
CSRF_FIELD = "csrf_token"
#: A console session lasts a working day; then the key is asked for again.
MAX_AGE_S = 12 * 3600
_SALT = "console-session-v1"


@dataclass(frozen=True)
class Visit:
    """What the cookie holds: the signed-in key's ID ("" before sign-in) and the CSRF token."""

    key_id: str
    csrf: str


def new_visit(key_id: str = "") -> Visit:
    """A visit with a fresh CSRF token (a new one at each sign-in, so a token seen before never works)."""
    return Visit(key_id=key_id, csrf=secrets.token_urlsafe(32))


class SessionCookies:
    """Signs and reads the console's cookie."""

    def __init__(self, secret_keys: Sequence[str], *, secure: bool) -> None:
        # itsdangerous signs with the last key and accepts any: the newest goes last.
        keys = [derive_key(key, "console-session") for key in reversed(secret_keys)]
        self._serializer = URLSafeTimedSerializer(keys, salt=_SALT)
        self._secure = secure

    def read(self, request: Request[Any, Any, Any]) -> Visit | None:
        """The visit the request's cookie holds, if it is ours, intact and younger than ``MAX_AGE_S``."""
        token = request.cookies.get(COOKIE, "")
        if not token:
            return None
        try:
            payload = self._serializer.loads(token, max_age=MAX_AGE_S)
            return Visit(key_id=str(payload["k"]), csrf=str(payload["c"]))
        except (BadSignature, KeyError, TypeError):
            return None

    def cookie(self, visit: Visit) -> Cookie:
        """The cookie that holds ``visit``."""
        value = str(self._serializer.dumps({"k": visit.key_id, "c": visit.csrf}))
        return self._cookie(value, MAX_AGE_S)

    def cleared(self) -> Cookie:
        """The cookie that removes the session (signing out)."""
        return self._cookie("", 0)

    def _cookie(self, value: str, max_age: int) -> Cookie:
        return Cookie(
            key=COOKIE,
            value=value,
            path=PATH,
            max_age=max_age,
            httponly=True,
            samesite="strict",
            secure=self._secure,
        )


def cookies_of(state: State) -> SessionCookies:
    """The app's ``SessionCookies``, made on first use from its settings."""
    cookies: SessionCookies | None = state.get("console_cookies")
    if cookies is None:
        settings: Settings = state.settings
        secure = settings.public_url.startswith("https://")
        cookies = state.console_cookies = SessionCookies(settings.secret_keys(), secure=secure)
    return cookies


def csrf_matches(visit: Visit | None, token: str) -> bool:
    """Whether a form's token is the one of this visit (compared in constant time)."""
    return visit is not None and bool(token) and hmac.compare_digest(visit.csrf, token)


class NotSignedIn(Exception):
    """No console session, or its key was revoked or lost the admin scope: sign in again."""


@dataclass(frozen=True)
class Admin:
    """The person using the console: an admin key of one workspace, and their visit."""

    workspace: Workspace
    key: ApiKey
    visit: Visit

    @property
    def csrf(self) -> str:
        """The token every form of this session carries."""
        return self.visit.csrf


async def provide_admin(request: Request[Any, Any, State], session: NamedDependency[AsyncSession]) -> Admin:
    """The signed-in admin (the ``admin`` dependency of every console page but sign-in)."""
    visit = cookies_of(request.app.state).read(request)
    if visit is None or not visit.key_id:
        raise NotSignedIn
    found = await find_active_key_by_id(session, visit.key_id)
    if found is None or found[0].scope != "admin":
        raise NotSignedIn
    key, workspace = found
    # On SQLite every transaction holds the write lock: never keep it while the page does more.
    await session.commit()
    return Admin(workspace=workspace, key=key, visit=visit)
