"""The current request's correlation id, readable from anywhere in the thread (logs, tasks)."""

from __future__ import annotations

import contextvars

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("kiln_request_id", default="")
