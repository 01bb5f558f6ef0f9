"""What happened, as the background task receives it (plain JSON-able values only)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Event:
    """One notifiable change to an issue or a merge request, a new note on one of them or on
    a commit, or a finished pipeline.

    action: "open", "close", "reopen", "merge", "reassign", "review_request", "mention",
        "push", "note", "approve", "unapprove", "merge_when_pipeline_succeeds" (merge
        requests), "due", "move" (issues); for pipelines the status the email reports:
        "failed", "success" or "fixed"; "moved" (projects).
    target_type / target_id: "Issue", "MergeRequest", "Pipeline" or "Project" and its row
        id; for "Commit" the project's id, with the commit in `target_sha`.
    actor_id: who did it (never notified of it, but of a moved project); None for what
        nobody did (an issue coming due, a pipeline finishing).
    note_id: the new note ("note").
    previous_ids / current_ids: assignees or reviewers before and after ("reassign",
        "review_request"); the newly mentioned users ("mention").
    extra: what the message shows beyond the target (new commits of a push, the moved
        issue's copy, a moved project's `old_path`).
    target_sha: the commit of a "Commit" target.
    """

    action: str
    target_type: str
    target_id: int
    actor_id: int | None
    note_id: int | None = None
    previous_ids: tuple[int, ...] = ()
    current_ids: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    target_sha: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["previous_ids"] = list(self.previous_ids)
        data["current_ids"] = list(self.current_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(
            action=str(data["action"]),
            target_type=str(data["target_type"]),
            target_id=int(data["target_id"]),
            actor_id=int(data["actor_id"]) if data.get("actor_id") is not None else None,
            note_id=int(data["note_id"]) if data.get("note_id") is not None else None,
            previous_ids=tuple(int(i) for i in data.get("previous_ids") or ()),
            current_ids=tuple(int(i) for i in data.get("current_ids") or ()),
            extra=dict(data.get("extra") or {}),
            target_sha=str(data.get("target_sha") or ""),
        )


# GitLab's custom action (the email event a custom level may turn on) of each action.
CUSTOM_ACTIONS: dict[tuple[str, str], str] = {
    ("Issue", "open"): "new_issue",
    ("Issue", "mention"): "new_issue",
    ("Issue", "close"): "close_issue",
    ("Issue", "reopen"): "reopen_issue",
    ("Issue", "reassign"): "reassign_issue",
    ("MergeRequest", "open"): "new_merge_request",
    ("MergeRequest", "mention"): "new_merge_request",
    ("MergeRequest", "close"): "close_merge_request",
    ("MergeRequest", "reopen"): "reopen_merge_request",
    ("MergeRequest", "merge"): "merge_merge_request",
    ("MergeRequest", "reassign"): "reassign_merge_request",
    ("MergeRequest", "review_request"): "change_reviewer_merge_request",
    ("MergeRequest", "push"): "push_to_merge_request",
    ("MergeRequest", "merge_when_pipeline_succeeds"): "merge_when_pipeline_succeeds",
    ("Issue", "due"): "issue_due",
    ("Pipeline", "failed"): "failed_pipeline",
    ("Pipeline", "fixed"): "fixed_pipeline",
    ("Pipeline", "success"): "success_pipeline",
    ("Project", "moved"): "moved_project",
}


def custom_action_of(event: Event) -> str | None:
    """The custom email event of the action; None for actions no custom event turns on
    (GitLab's `approve_merge_request`, `moved_issue`...: only `watch` and participation
    reach those)."""
    if event.action == "note":
        return "new_note"
    return CUSTOM_ACTIONS.get((event.target_type, event.action))
