"""Parameters checked against the official SDK's generated TypedDicts (``stripe.params``).

Those types are generated from Stripe's OpenAPI spec, so they say which parameters exist, which are
required, which accept ``""`` (unset) and which enum values are allowed. Form values arrive as strings
and are coerced here to ``int``, ``bool``, lists and objects, refused the way Stripe refuses them.
"""

import functools
import sys
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from stripe._request_options import RequestOptions
from stripe._stripe_object import UntypedStripeObject
from typing_extensions import is_typeddict

from gateway.sandbox.errors import StripeApiError, invalid, missing_parameter, unknown_parameter

#: Client-side options of the SDK (``api_key``, ``idempotency_key``, ...): never sent as parameters.
_OPTIONS = frozenset(RequestOptions.__annotations__)
_TRUE, _FALSE = "true", "false"


@functools.cache
def _fields(spec: type) -> dict[str, tuple[Any, bool]]:
    """Each parameter's type and whether it is required."""
    required: frozenset[str] = getattr(spec, "__required_keys__", frozenset())
    skip = _OPTIONS if RequestOptions in getattr(spec, "__orig_bases__", ()) else frozenset()
    # Resolve the generated string annotations in the spec's own module, leaving out the inherited
    # request options (whose annotations name types that module does not import).
    holder = _Annotations({k: v for k, v in spec.__annotations__.items() if k not in skip})
    hints = get_type_hints(holder, globalns=vars(sys.modules[spec.__module__]))
    return {name: (hint, name in required) for name, hint in hints.items()}


class _Annotations:
    def __init__(self, annotations: dict[str, Any]) -> None:
        self.__annotations__ = annotations


def check(spec: type, data: dict[str, Any], *, path: str = "") -> dict[str, Any]:
    """``data`` coerced to ``spec``; a ``StripeApiError`` naming the first bad parameter."""
    fields = _fields(spec)
    out: dict[str, Any] = {}
    for key, value in data.items():
        param = f"{path}[{key}]" if path else key
        if key not in fields:
            raise unknown_parameter(param)
        out[key] = _coerce(fields[key][0], value, param)
    for name, (_, required) in fields.items():
        if required and name not in data:
            raise missing_parameter(f"{path}[{name}]" if path else name)
    return out


def _members(hint: Any) -> tuple[list[Any], list[Any]]:
    """A type's literal values and its other member types, unions flattened."""
    literals: list[Any] = []
    others: list[Any] = []
    stack = [hint]
    while stack:
        current = stack.pop()
        origin = get_origin(current)
        if origin in (Union, UnionType):
            stack.extend(get_args(current))
        elif origin is Literal:
            literals.extend(get_args(current))
        else:
            others.append(current)
    return literals, others


def _coerce(hint: Any, value: Any, param: str) -> Any:  # noqa: C901, PLR0911, PLR0912
    literals, others = _members(hint)
    enum = [v for v in literals if v != ""]
    if isinstance(value, dict):
        for member in others:
            if is_typeddict(member):
                return check(member, value, path=param)
            if get_origin(member) in (dict, UntypedStripeObject):
                return _string_map(value, param)
        raise _wrong_kind(others, param)
    if isinstance(value, list):
        for member in others:
            if get_origin(member) is list:
                (item,) = get_args(member)
                return [_coerce(item, v, f"{param}[{i}]") for i, v in enumerate(value)]
        raise _wrong_kind(others, param)
    text = str(value)
    if text == "":
        if "" in literals:
            return ""
        msg = (
            f"You passed an empty string for '{param}'. We assume empty values are an attempt to unset a "
            f"parameter; however '{param}' cannot be unset. You should remove '{param}' from your request "
            "or supply a non-empty value."
        )
        raise invalid(msg, param=param, code="parameter_invalid_empty")
    if text in enum:
        return text
    if int in others:
        try:
            return int(text)
        except ValueError:
            if not enum and str not in others:
                msg = f"Invalid integer: {text}"
                raise invalid(msg, param=param, code="parameter_invalid_integer") from None
    if float in others:
        try:
            return float(text)
        except ValueError:
            msg = f"Invalid decimal: {text}"
            raise invalid(msg, param=param, code="parameter_invalid_decimal") from None
    if bool in others:
        if text in (_TRUE, _FALSE):
            return text == _TRUE
        msg = f"Invalid boolean: {text}"
        raise invalid(msg, param=param, code="parameter_invalid_boolean")
    if enum:
        # The SDK types enums as ``Literal[...] | str`` to stay open to new values; Stripe does not.
        *most, last = (str(v) for v in enum)
        choices = f"{', '.join(most)}{',' if len(most) > 1 else ''} or {last}" if most else last
        msg = f"Invalid {param}: must be one of {choices}"
        raise invalid(msg, param=param, code="parameter_invalid_enum")
    if str in others:
        return text
    raise _wrong_kind(others, param)


def _string_map(value: dict[str, Any], param: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, dict | list):
            msg = f"Invalid string: {param}[{key}] must be a string"
            raise invalid(msg, param=f"{param}[{key}]", code="parameter_invalid_string")
        out[key] = str(item)
    return out


def _wrong_kind(others: list[Any], param: str) -> StripeApiError:
    if any(is_typeddict(m) or get_origin(m) in (dict, UntypedStripeObject) for m in others):
        return invalid(
            f"Invalid object: {param} must be an object", param=param, code="parameter_invalid_object"
        )
    if any(get_origin(m) is list for m in others):
        return invalid(
            f"Invalid array: {param} must be an array", param=param, code="parameter_invalid_array"
        )
    return invalid(f"Invalid string: {param} must be a string", param=param, code="parameter_invalid_string")
