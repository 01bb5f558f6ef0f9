"""Errors with GitLab's merge request answers (`handle_merge_request_errors!`)."""

from __future__ import annotations

from typing import Any

from kiln.core.errors import KilnError


class MergeRequestInvalid(KilnError):
    """422 with a list of messages: `{"message": ["Source branch \\"x\\" does not exist"]}`."""

    status = 422
    reason = "merge_request_invalid"

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)

    def body(self) -> dict[str, Any]:
        return {"message": self.messages}


class MergeRequestConflict(KilnError):
    """GitLab's `conflict!(errors[:validate_branches])`: 409 with a list of messages."""

    status = 409
    reason = "merge_request_conflict"

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)

    def body(self) -> dict[str, Any]:
        return {"message": self.messages}


class BranchCannotBeMerged(KilnError):
    """`render_api_error!('Branch cannot be merged', 422)`."""

    status = 422
    reason = "branch_cannot_be_merged"

    def __init__(self, message: str = "Branch cannot be merged") -> None:
        super().__init__(message)
