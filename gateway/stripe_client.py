"""The official Stripe SDK, one client per workspace, and Stripe's errors as the gateway's.

Every Stripe call goes through ``StripeClients.client_for(workspace)`` (async methods, on
``stripe.AIOHTTPClient``: about 4x the throughput of the SDK's httpx client here) and runs inside
``stripe_errors()``, so callers only ever see ``GatewayError``s.
"""

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import aiohttp
import stripe
from stripe import _api_requestor, _util

from gateway.errors import (
    CustomerNotFound,
    StripeAuthFailed,
    StripeRateLimited,
    StripeRejected,
    StripeUnavailable,
)
from gateway.metrics import meter_stripe_requests
from gateway.models import Workspace
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.workspaces import stripe_api_base

#: Retries of connection errors, 409, 5xx and ``Stripe-Should-Retry`` (``StripeClient`` defaults to 0).
MAX_NETWORK_RETRIES = 2
STRIPE_RATE_LIMIT_RETRY_AFTER_S = 2


class _AIOHTTPClient(stripe.AIOHTTPClient):
    """The SDK's aiohttp client, with an answer cut off mid-body counted as the connection error it is.

    The SDK turns failures of sending a request into ``APIConnectionError`` (retried), but reads the
    answer's body outside that net: a connection dropped mid-answer escaped as aiohttp's own error,
    unretried, and became a 500.
    """

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        """The answer's body, status and headers; ``APIConnectionError`` when the body is cut short."""
        try:
            return await super().request_async(method, url, headers, post_data)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._handle_request_error(exc)


def _lazy(log: Callable[..., None], level: int, console: tuple[str, ...]) -> Callable[..., None]:
    sdk: Any = _util

    def log_when_heard(message: str, **params: Any) -> None:
        if sdk.logger.isEnabledFor(level) or sdk._console_log_level() in console:  # noqa: SLF001
            log(message, **params)

    log_when_heard.lazy = True  # type: ignore[attr-defined]
    return log_when_heard


def quiet_sdk_logging() -> None:
    """Have the SDK format its log lines only when someone will read them.

    ``stripe`` formats four lines per request (one is the whole answer body, scanned and ``repr``-ed)
    before asking whether its logger is enabled: about 50 us of a portal URL's ~300, for lines the
    gateway silences. Same lines, same switches (``STRIPE_LOG``, the ``stripe`` logger) when enabled.
    """
    requestor: Any = _api_requestor
    if getattr(requestor.log_info, "lazy", False):
        return
    requestor.log_info = _lazy(_util.log_info, logging.INFO, ("debug", "info"))
    requestor.log_debug = _lazy(_util.log_debug, logging.DEBUG, ("debug",))


class StripeClients:
    """One ``StripeClient`` per workspace (and key), created on first use and reused."""

    def __init__(self, settings: Settings, vault: Vault) -> None:
        self._settings = settings
        self._vault = vault
        quiet_sdk_logging()
        # Stripe answers portal calls in well under a second: past the timeout a builder is better told.
        self._http = _AIOHTTPClient(timeout=aiohttp.ClientTimeout(total=settings.stripe_timeout))
        meter_stripe_requests(self._http)
        self._clients: dict[tuple[str, str, str], stripe.StripeClient] = {}

    def client_for(self, workspace: Workspace) -> stripe.StripeClient:
        """The workspace's client; a changed key or API base gets a new one."""
        base = stripe_api_base(self._settings, workspace)
        cache_key = (workspace.id, workspace.stripe_key_enc, base)
        client = self._clients.get(cache_key)
        if client is None:
            self._clients = {k: v for k, v in self._clients.items() if k[0] != workspace.id}
            client = stripe.StripeClient(
                self._vault.decrypt(workspace.stripe_key_enc),
                http_client=self._http,
                max_network_retries=MAX_NETWORK_RETRIES,
                base_addresses={"api": base},
            )
            self._clients[cache_key] = client
        return client

    async def close(self) -> None:
        """Close the shared HTTP session (on shutdown)."""
        await self._http.close_async()  # type: ignore[no-untyped-call]


@contextmanager
def stripe_errors() -> Iterator[None]:
    """Turn the SDK's exceptions into the contract's ``stripe_*`` (and ``customer_not_found``) errors.

    Stripe's own message is passed on for invalid requests (it names the parameter and helps the
    builder, e.g. "a similar object exists in live mode"), never for authentication errors, whose
    message quotes part of the key.
    """
    try:
        yield
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        msg = "Stripe refused this workspace's secret key (revoked, wrong mode, or missing a permission)."
        raise StripeAuthFailed(msg) from exc
    except stripe.RateLimitError as exc:
        msg = "Stripe is rate limiting this Stripe account; retry shortly."
        raise StripeRateLimited(msg, headers={"Retry-After": str(STRIPE_RATE_LIMIT_RETRY_AFTER_S)}) from exc
    except stripe.APIConnectionError as exc:
        msg = "Stripe could not be reached; retry shortly."
        raise StripeUnavailable(msg) from exc
    except stripe.InvalidRequestError as exc:
        message = exc.user_message or str(exc.error.message if exc.error else exc)
        if exc.code == "resource_missing" and exc.param == "customer":
            raise CustomerNotFound(message) from exc
        raise StripeRejected(message) from exc
    except stripe.StripeError as exc:
        if (exc.http_status or 500) >= 500:  # noqa: PLR2004
            msg = "Stripe failed to answer; retry shortly."
            raise StripeUnavailable(msg) from exc
        message = exc.user_message or "Stripe refused the request."
        raise StripeRejected(message) from exc
