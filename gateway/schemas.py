"""Wire shapes shared by every resource: list pages and the error body."""

from collections.abc import Callable
from typing import Generic, TypeVar

import msgspec

T = TypeVar("T")

MAX_PAGE_SIZE = 100


class Page(msgspec.Struct, Generic[T]):
    """One page of a list: ``?cursor=`` with ``next_cursor`` gives the next one."""

    data: list[T]
    has_more: bool = False
    next_cursor: str = ""
    ok: bool = True


class ErrorBody(msgspec.Struct):
    """Every non-2xx answer (``fields`` only on ``validation_error``)."""

    error_code: str
    error_message: str
    status: int
    request_id: str
    ok: bool = False
    fields: list[dict[str, str]] = msgspec.field(default_factory=list)


def page_of(items: list[T], limit: int, cursor_of: Callable[[T], str]) -> Page[T]:
    """A page from ``limit + 1`` fetched items (the extra one only says there is more)."""
    has_more = len(items) > limit
    items = items[:limit]
    return Page(data=items, has_more=has_more, next_cursor=cursor_of(items[-1]) if has_more else "")
