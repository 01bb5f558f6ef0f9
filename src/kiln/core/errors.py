"""One error hierarchy for every domain package, mapped to GitLab's HTTP answers in one place.

Services raise these; entry points (API, web, git transports) translate them. Each error has a
`reason` slug (stable, for logs and metrics) and knows its HTTP status and GitLab's JSON body.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar


class KilnError(Exception):
    """Base of every error a user may see. Never carries a stack trace to the client."""

    status: ClassVar[int] = 400
    reason: ClassVar[str] = "error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        """GitLab's JSON body for this error."""
        return {"message": self.message}


class BadRequest(KilnError):
    """GitLab's `bad_request!`: `{"message": "400 Bad request - <why>"}`."""

    status = 400
    reason = "bad_request"

    def body(self) -> dict[str, Any]:
        if not self.message:
            return {"message": "400 Bad request"}
        return {"message": f"400 Bad request - {self.message}"}


class PlainBadRequest(KilnError):
    """A 400 whose message GitLab sends verbatim (e.g. `{"message": "Invalid ref"}`)."""

    status = 400
    reason = "bad_request"


class MissingParameter(KilnError):
    """Grape's `{"error": "name is missing"}`."""

    status = 400
    reason = "missing_parameter"

    def __init__(self, *names: str) -> None:
        super().__init__(", ".join(f"{n} is missing" for n in names))

    def body(self) -> dict[str, Any]:
        return {"error": self.message}


class InvalidParameter(KilnError):
    """Grape's `{"error": "visibility does not have a valid value"}` and similar."""

    status = 400
    reason = "invalid_parameter"

    def body(self) -> dict[str, Any]:
        return {"error": self.message}


def add_errors(errors: dict[str, list[str]], field: str, messages: Iterable[str]) -> None:
    """Collect `messages` under `field` for a `ValidationFailed` (none: nothing is added)."""
    for message in messages:
        errors.setdefault(field, []).append(message)


class ValidationFailed(KilnError):
    """A model validation failure: `{"message": {"path": ["has already been taken"]}}`."""

    status = 400
    reason = "validation_failed"

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k} {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {"message": self.errors}


class Unauthorized(KilnError):
    status = 401
    reason = "unauthorized"

    def __init__(self, message: str = "401 Unauthorized") -> None:
        super().__init__(message)


class Forbidden(KilnError):
    status = 403
    reason = "forbidden"

    def __init__(self, message: str = "") -> None:
        super().__init__(f"403 Forbidden - {message}" if message else "403 Forbidden")


class PlainForbidden(Forbidden):
    """A 403 whose message GitLab sends verbatim (`render_api_error!(message, 403)`)."""

    def __init__(self, message: str) -> None:
        KilnError.__init__(self, message)


class NotFound(KilnError):
    """`{"message": "404 Project Not Found"}`. Also the answer for what the actor may not see."""

    status = 404
    reason = "not_found"

    def __init__(self, what: str = "") -> None:
        super().__init__(f"404 {what} Not Found" if what else "404 Not found")
        self.what = what


class MethodNotAllowed(KilnError):
    status = 405
    reason = "method_not_allowed"

    def __init__(self, message: str = "405 Method Not Allowed") -> None:
        super().__init__(message)


class Conflict(KilnError):
    status = 409
    reason = "conflict"


class Unprocessable(KilnError):
    status = 422
    reason = "unprocessable"


class PayloadTooLarge(KilnError):
    status = 413
    reason = "payload_too_large"

    def __init__(self, message: str = "413 Request Entity Too Large") -> None:
        super().__init__(message)


class TooManyRequests(KilnError):
    status = 429
    reason = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__("Retry later")
        self.retry_after = retry_after
