"""What the gateway knows of each Stripe customer: enough to fill flat events without a Stripe call.

``customer.updated`` (or a customer expanded in a re-fetched subscription) is authoritative and
ordered by the event's ``created``; invoices and checkout sessions only fill what is still unknown.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.stripe_objects import dict_of, str_of


@dataclass(slots=True)
class CustomerState:
    """A customer's e-mail and the builder's own user ID for them."""

    customer_id: str
    email: str = ""
    external_user_id: str = ""
    #: ``created`` of the newest authoritative event applied (0: only filled in from other objects).
    stripe_created: int = 0


def state_of(row: Mapping[Any, Any]) -> CustomerState:
    """The in-memory state of a stored customer row (its columns by name)."""
    return CustomerState(
        customer_id=row["customer_id"],
        email=row["email"],
        external_user_id=row["external_user_id"],
        stripe_created=row["stripe_created"],
    )


def row_values(state: CustomerState, now: datetime) -> dict[str, Any]:
    """The columns to store for ``state``."""
    return {
        "customer_id": state.customer_id,
        "email": state.email,
        "external_user_id": state.external_user_id,
        "stripe_created": state.stripe_created,
        "updated_at": now,
    }


def apply_customer(stored: CustomerState | None, obj: dict[str, Any], created: int) -> CustomerState | None:
    """The new state from a Stripe customer object, or None when ``stored`` is newer."""
    if stored is not None and created < stored.stripe_created:
        return None
    return CustomerState(
        customer_id=str_of(obj.get("id")),
        email=str_of(obj.get("email")),
        external_user_id=str_of(dict_of(obj.get("metadata")).get("external_user_id")),
        stripe_created=created,
    )


def fill_customer(
    stored: CustomerState | None, customer_id: str, *, email: str = "", external_user_id: str = ""
) -> CustomerState | None:
    """``stored`` with its unknown fields filled in, or None when nothing changes."""
    current = stored or CustomerState(customer_id=customer_id)
    filled = CustomerState(
        customer_id=customer_id,
        email=current.email or email,
        external_user_id=current.external_user_id or external_user_id,
        stripe_created=current.stripe_created,
    )
    if filled == current and stored is not None:
        return None
    if stored is None and not (filled.email or filled.external_user_id):
        return None
    return filled
