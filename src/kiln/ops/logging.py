"""Structured JSON logs: one object per line, with the request's correlation id."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from kiln.ops.context import request_id

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class RequestContextFilter(logging.Filter):
    """Adds `correlation_id`: the current request's id, or that of the request logged about.

    Django logs a failed response (`django.request`) after the middleware has returned, when
    the context variable is reset; the request it passes along still carries the id.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "correlation_id", None):
            rid = request_id.get()
            if not rid:
                rid = getattr(getattr(record, "request", None), "request_id", "")
            record.correlation_id = rid
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "severity": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for key, value in record.__dict__.items():
            # `request` is Django's request object (its id and path are logged already).
            if key not in _STANDARD and not key.startswith("_") and key != "request":
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
