"""Reading fields of Stripe objects defensively: any API version, any field possibly absent or null."""

from typing import Any


def id_of(value: object) -> str:
    """An ID whether Stripe sent it as a string or expanded it into an object ("" when absent)."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return value if isinstance(value, str) else ""


def int_of(value: object) -> int:
    """An integer field (amounts, Unix seconds), 0 when absent or null."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def str_of(value: object) -> str:
    """A text field, "" when absent or null."""
    return value if isinstance(value, str) else ""


def dict_of(value: object) -> dict[str, Any]:
    """A nested object, {} when absent or null."""
    return value if isinstance(value, dict) else {}
