"""The gateway's errors: domain code raises these; ``gateway.responses`` maps them to JSON once.

Each class carries a stable ``code`` (the ``error_code`` users and docs rely on) and an HTTP ``status``:

* GatewayError
  x Unauthorized                 401 unauthorized
  x ForbiddenScope               403 forbidden_scope
  x ValidationFailed             400 validation_error (``fields``)
  x NotFound                     404 not_found
    + PresetNotFound             404 preset_not_found
    + CustomerNotFound           404 customer_not_found
  x PresetInvalid                422 preset_invalid
  x CustomerAmbiguous            409 customer_ambiguous
  x ReturnUrlNotAllowed          400 return_url_not_allowed
  x IdempotencyConflict          409 idempotency_conflict
  x RateLimited                  429 rate_limited (``Retry-After``)
  x SignatureInvalid             400 signature_invalid
  x Unavailable                  503 unavailable (``Retry-After``)
  x StripeFailure
    + StripeAuthFailed           502 stripe_auth_failed
    + StripeRateLimited          503 stripe_rate_limited (``Retry-After``)
    + StripeUnavailable          503 stripe_unavailable
    + StripeRejected             400 stripe_error
"""

from collections.abc import Mapping
from typing import Any, ClassVar


class GatewayError(Exception):
    """Root of every error the gateway answers with; never an HTTP exception itself."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        #: The human sentence shown as ``error_message``.
        self.message = message
        #: Additional keys merged into the error body (e.g. ``fields``).
        self.extra: dict[str, Any] = dict(extra or {})
        #: Response headers (e.g. ``Retry-After``).
        self.headers: dict[str, str] = dict(headers or {})


class Unauthorized(GatewayError):
    """No API key, an unknown one, or a revoked one."""

    code = "unauthorized"
    status = 401


class ForbiddenScope(GatewayError):
    """The key is valid but its scope does not allow this route."""

    code = "forbidden_scope"
    status = 403


class ValidationFailed(GatewayError):
    """The request is malformed; ``fields`` lists ``{"field", "message"}`` pairs."""

    code = "validation_error"
    status = 400

    def __init__(self, message: str, *, field: str = "", fields: list[dict[str, str]] | None = None) -> None:
        if field:
            fields = [{"field": field, "message": message}, *(fields or [])]
        super().__init__(message, extra={"fields": fields or []})


class NotFound(GatewayError):
    """The object does not exist in this workspace (or does, but elsewhere: same answer)."""

    code = "not_found"
    status = 404


class PresetNotFound(NotFound):
    """No preset by that name in this workspace."""

    code = "preset_not_found"


class CustomerNotFound(NotFound):
    """No Stripe customer matches the ID, email or external user ID given."""

    code = "customer_not_found"


class PresetInvalid(GatewayError):
    """A preset breaks a rule (ours or Stripe's); the message names the file, line and rule."""

    code = "preset_invalid"
    status = 422


class CustomerAmbiguous(GatewayError):
    """Several Stripe customers match the email or external user ID given."""

    code = "customer_ambiguous"
    status = 409


class ReturnUrlNotAllowed(GatewayError):
    """The return URL is not under any allowed return URL of the preset or workspace."""

    code = "return_url_not_allowed"
    status = 400


class IdempotencyConflict(GatewayError):
    """The ``Idempotency-Key`` was used before with a different request, or is still in flight."""

    code = "idempotency_conflict"
    status = 409


class RateLimited(GatewayError):
    """The key made too many requests; retry after ``Retry-After`` seconds."""

    code = "rate_limited"
    status = 429


class SignatureInvalid(GatewayError):
    """A Stripe webhook whose ``Stripe-Signature`` is missing, stale, or made with another secret."""

    code = "signature_invalid"
    status = 400


class Unavailable(GatewayError):
    """The gateway cannot take this request right now (starting, stopping, overloaded); retry soon."""

    code = "unavailable"
    status = 503

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Retry-After": "1"})


class StripeFailure(GatewayError):
    """Stripe did not do what was asked."""

    code = "stripe_error"
    status = 502


class StripeAuthFailed(StripeFailure):
    """Stripe refused the workspace's secret key."""

    code = "stripe_auth_failed"
    status = 502


class StripeRateLimited(StripeFailure):
    """Stripe is rate limiting the workspace's account."""

    code = "stripe_rate_limited"
    status = 503


class StripeUnavailable(StripeFailure):
    """Stripe could not be reached or failed after retries."""

    code = "stripe_unavailable"
    status = 503


class StripeRejected(StripeFailure):
    """Stripe refused the request as invalid; its message is passed on when safe."""

    code = "stripe_error"
    status = 400
