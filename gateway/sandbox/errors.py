"""Stripe's errors as the sandbox answers them: ``{"error": {"type", "code", "message", "param"}}``.

Messages copy Stripe's wording where it is known (``reference/stripe-portal.md``), so code and people
reading them meet what they would meet in Stripe's test mode.
"""

from typing import Any

INVALID_REQUEST = "invalid_request_error"


class StripeApiError(Exception):
    """An answer of Stripe's error shape; raised anywhere in the sandbox, rendered once by the wire."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type_: str = INVALID_REQUEST,
        code: str = "",
        param: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type_
        self.code = code
        self.param = param
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body Stripe sends: ``code`` and ``param`` only when they apply."""
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        return {"error": error}


def invalid(message: str, *, param: str = "", code: str = "") -> StripeApiError:
    """A 400 ``invalid_request_error``."""
    return StripeApiError(message, param=param, code=code)


def unknown_parameter(param: str) -> StripeApiError:
    """A parameter the API does not have."""
    return invalid(f"Received unknown parameter: {param}", param=param, code="parameter_unknown")


def missing_parameter(param: str) -> StripeApiError:
    """A required parameter left out."""
    return invalid(f"Missing required param: {param}.", param=param, code="parameter_missing")


def resource_missing(kind: str, object_id: str, *, param: str = "", other_mode: str = "") -> StripeApiError:
    """``No such customer: 'cus_…'``; ``other_mode`` names the mode where the ID does exist."""
    message = f"No such {kind}: '{object_id}'"
    if other_mode:
        used = "live" if other_mode == "test" else "test"
        message += (
            f"; a similar object exists in {other_mode} mode, but a {used} mode key was used to make "
            "this request."
        )
    return StripeApiError(message, status=404, param=param, code="resource_missing")


def unrecognized_url(method: str, path: str) -> StripeApiError:
    """A path (or method) the API does not serve, e.g. ``DELETE`` on a portal configuration."""
    message = (
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help "
        "at https://support.stripe.com/."
    )
    return StripeApiError(message, status=404)


def authentication_failed(key: str) -> StripeApiError:
    """A wrong or missing secret key (401); the message shows only the key's last four characters."""
    if not key:
        message = (
            "You did not provide an API key. You need to provide your API key in the Authorization header, "
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
        )
    else:
        message = f"Invalid API Key provided: {key[:8]}{'*' * max(len(key) - 12, 4)}{key[-4:]}"
    return StripeApiError(message, status=401)


def idempotency_mismatch(key: str) -> StripeApiError:
    """The same ``Idempotency-Key`` sent with other parameters."""
    message = (
        "Keys for idempotent requests can only be used with the same parameters they were first used "
        f"with. Try using a key other than '{key}' if you meant to execute a different request."
    )
    return StripeApiError(message, type_="idempotency_error")
