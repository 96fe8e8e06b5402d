"""Stripe's wire format: nested form keys (``a[b][0]=``) to values, list objects, ``expand[]``."""

import re
from collections.abc import Callable, Iterable
from typing import Any

from gateway.sandbox.errors import invalid, resource_missing

Obj = dict[str, Any]

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
MAX_LIMIT = 100
DEFAULT_LIMIT = 10


def decode_form(pairs: Iterable[tuple[str, str]]) -> Obj:
    """``[("items[0][price]", "p")]`` to ``{"items": [{"price": "p"}]}``, as Stripe reads its bodies."""
    root: Obj = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            msg = f"Invalid parameter name: {key}"
            raise invalid(msg, param=key)
        segments = [match.group(1), *_SEGMENT.findall(match.group(2))]
        node: Obj = root
        for segment in segments[:-1]:
            name = segment or str(len(node))
            child = node.get(name)
            if not isinstance(child, dict):
                child = node[name] = {}
            node = child
        last = segments[-1] or str(len(node))
        node[last] = value
    decoded: Obj = _listify(root)
    return decoded


def _listify(node: Any) -> Any:
    """Objects whose keys are all indexes become lists, in index order."""
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def list_object(url: str, objects: list[Obj], params: Obj) -> Obj:
    """A page of ``objects`` (newest first) after ``limit``, ``starting_after`` and ``ending_before``."""
    limit = int(params.get("limit", DEFAULT_LIMIT))
    if not 1 <= limit <= MAX_LIMIT:
        msg = f"Invalid limit: must be between 1 and {MAX_LIMIT}"
        raise invalid(msg, param="limit")
    ids = [obj["id"] for obj in objects]
    kind = "object"
    start, end = 0, len(objects)
    if after := params.get("starting_after"):
        if after not in ids:
            raise resource_missing(kind, after, param="starting_after")
        start = ids.index(after) + 1
    if before := params.get("ending_before"):
        if before not in ids:
            raise resource_missing(kind, before, param="ending_before")
        end = ids.index(before)
        start = max(start, end - limit)
    page = objects[start:end][:limit]
    return {"object": "list", "data": page, "has_more": start + len(page) < end, "url": url}


def expand(obj: Obj, paths: list[str], lookup: Callable[[str], Obj | None]) -> Obj:
    """``obj`` with the IDs at each dotted path (``data`` stepping into lists) replaced by objects."""
    for path in paths:
        _expand_at(obj, path.split("."), lookup, path)
    return obj


def _expand_at(node: Any, steps: list[str], lookup: Callable[[str], Obj | None], path: str) -> None:
    if isinstance(node, list):
        for item in node:
            _expand_at(item, steps, lookup, path)
        return
    if not isinstance(node, dict) or not steps:
        return
    head, rest = steps[0], steps[1:]
    if head not in node:
        msg = f"This property cannot be expanded ({path})."
        raise invalid(msg, param="expand")
    value = node[head]
    if not rest:
        if isinstance(value, str) and (found := lookup(value)) is not None:
            node[head] = found
        return
    _expand_at(value, rest, lookup, path)
