"""Structured logs: one JSON object per line on stderr, never a secret, never per request at INFO.

A record made while a request is being handled carries its ``request_id`` (the ``X-Request-Id`` the
caller got), so a builder quoting it from an error body leads to every line about that request.
"""

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

#: The ID of the request this task is handling ("" outside requests); set by ``gateway.responses``.
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is logged as a field.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}
# Libraries that log each request at INFO: one line per Stripe call or delivery costs throughput.
_QUIET = ("stripe", "httpx", "httpcore", "aiohttp.access", "uvicorn.access", "alembic.runtime.migration")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: time, level, logger, message and its ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _stamp_request_id(factory: Any) -> Any:
    """A record factory that adds ``request_id`` to records made during a request."""
    if getattr(factory, "stamps_request_id", False):
        return factory

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = factory(*args, **kwargs)
        request_id = REQUEST_ID.get()
        if request_id:
            record.request_id = request_id
        return record

    make.stamps_request_id = True  # type: ignore[attr-defined]
    return make


def configure_logging() -> None:
    """Send the gateway's logs to stderr as JSON lines (once per process)."""
    logging.setLogRecordFactory(_stamp_request_id(logging.getLogRecordFactory()))
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
