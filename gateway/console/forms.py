"""The subscriber form: what a person typed, checked by the JSON API's own request types.

``SubscriberCreate`` and ``SubscriberUpdate`` (``gateway.routes.subscribers``) decide what is valid,
so the console accepts exactly what ``POST``/``PATCH /v1/subscribers`` accept, with the same limits.
"""

import re
from typing import Any, TypeVar

import msgspec
from litestar.datastructures import FormMultiDict

from gateway.errors import ValidationFailed
from gateway.flat_events import EVENT_TYPES
from gateway.models import Subscriber

T = TypeVar("T")
_WHERE = re.compile(r"at `\$\.(\w+)")
ALL_EVENTS = "*"


def form_values(form: FormMultiDict) -> dict[str, Any]:
    """The subscriber form as entered (for showing it again with an error)."""
    return {
        "url": str(form.get("url", "")).strip(),
        "description": str(form.get("description", "")).strip(),
        "event_types": [str(v) for v in form.getall("event_types", [])],
        "format": str(form.get("format", "flat")),
        "headers": str(form.get("headers", "")),
        "remove_headers": form.get("remove_headers") == "on",
        "max_in_flight": str(form.get("max_in_flight", "4")).strip(),
        "enabled": form.get("enabled") == "on",
    }


def values_of(subscriber: Subscriber) -> dict[str, Any]:
    """A stored subscriber as the edit form shows it (header values are never shown)."""
    return {
        "url": subscriber.url,
        "description": subscriber.description,
        "event_types": list(subscriber.event_types),
        "format": subscriber.format,
        "headers": "",
        "remove_headers": False,
        "max_in_flight": str(subscriber.max_in_flight),
        "enabled": subscriber.enabled,
    }


def blank_values() -> dict[str, Any]:
    """A new subscriber's form: every event, flat, four at a time."""
    return {
        "url": "",
        "description": "",
        "event_types": [ALL_EVENTS],
        "format": "flat",
        "headers": "",
        "remove_headers": False,
        "max_in_flight": "4",
        "enabled": True,
    }


def parse_headers(text: str) -> dict[str, str]:
    """``Name: value`` lines as headers (the values may contain colons)."""
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            msg = f"Line {number} of the headers is not 'Name: value'."
            raise ValidationFailed(msg, field="headers")
        headers[name.strip()] = value.strip()
    return headers


def request_of(values: dict[str, Any], kind: type[T], *, editing: bool) -> T:
    """The API request these form values make (``validation_error`` naming the field otherwise)."""
    body: dict[str, Any] = {
        "url": values["url"],
        "description": values["description"],
        "event_types": values["event_types"] or [],
        "format": values["format"],
        "max_in_flight": values["max_in_flight"],
    }
    if not editing:
        body["enabled"] = values["enabled"]
    if values["remove_headers"]:
        body["headers"] = {}
    elif values["headers"].strip() or not editing:  # editing: blank keeps the stored ones
        body["headers"] = parse_headers(values["headers"])
    try:
        return msgspec.convert(body, kind, strict=False)
    except msgspec.ValidationError as exc:
        where = _WHERE.search(str(exc))
        field = where.group(1) if where else ""
        problem = str(exc).split(" - at ", 1)[0]
        raise ValidationFailed(
            f"{field.replace('_', ' ')}: {problem}" if field else problem, field=field
        ) from exc


def event_type_choices() -> list[str]:
    """Every flat event type a subscriber may pick."""
    return list(EVENT_TYPES)


def field_of(exc: ValidationFailed) -> str:
    """The form field a validation error is about ("" when it names none)."""
    fields = exc.extra.get("fields") or [{}]
    return str(fields[0].get("field", ""))
