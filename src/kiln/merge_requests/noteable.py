"""Merge requests as seen by the planning packages: a noteable type for notes, and the
resolver of `!45` references in Markdown. Registered at app start (see apps.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import QuerySet

from kiln.core.actor import Actor
from kiln.markdown import ReferenceType, ResolvedReference
from kiln.merge_requests import queries
from kiln.merge_requests.models import MergeRequest, MergeRequestAssignee, MergeRequestReviewer
from kiln.merge_requests.policies import can_read_merge_requests
from kiln.merge_requests.services import apply_quick_actions
from kiln.projects.models import Project


def _find(actor: Actor, project: Project, ref: str) -> MergeRequest | None:
    if not ref.isdigit() or len(ref) > 18 or not can_read_merge_requests(actor, project):
        return None
    mr = queries.visible_merge_requests(actor).filter(project=project, iid=int(ref)).first()
    if mr is not None:
        mr.project = project
    return mr


def _participants(mr: MergeRequest) -> Iterable[int]:
    ids: list[int] = []
    if mr.author_id is not None:
        ids.append(mr.author_id)
    ids += list(
        MergeRequestAssignee.objects.filter(merge_request=mr).values_list("user_id", flat=True)
    )
    ids += list(
        MergeRequestReviewer.objects.filter(merge_request=mr).values_list("user_id", flat=True)
    )
    return list(dict.fromkeys(ids))


def _visible_ids(actor: Actor) -> QuerySet[Any]:
    return queries.visible_ids(actor)


def _diff_refs(mr: MergeRequest) -> dict[str, str | None]:
    return {
        "base_sha": mr.diff_base_sha or None,
        "start_sha": mr.diff_start_sha or None,
        "head_sha": mr.diff_head_sha or None,
    }


def register_noteable() -> None:
    from kiln.notes import noteables

    noteables.register(
        noteables.NoteableType(
            name="MergeRequest",
            model=MergeRequest,
            route="merge_requests",
            project_of=lambda mr: mr.project,
            find=_find,
            id_of=lambda mr: mr.pk,
            iid_of=lambda mr: mr.iid,
            title_of=lambda mr: mr.title,
            read_action="read_merge_request",
            update_action="update_merge_request",
            admin_action="admin_merge_request",
            visible_ids=_visible_ids,
            resolvable=True,
            resolve_action="resolve_note",
            locked=lambda mr: bool(mr.discussion_locked),
            apply_quick_actions=apply_quick_actions,
            participants=_participants,
            extra={"diff_refs": _diff_refs},
        )
    )


def resolve_references(
    actor: Actor, project: Project, iids: list[str], base_url: str
) -> Mapping[str, ResolvedReference]:
    """`!45` in Markdown: a link for each merge request of `project` the viewer may read."""
    if not can_read_merge_requests(actor, project):
        return {}
    wanted = {int(i) for i in iids if i.isdigit() and len(i) < 10}
    if not wanted:
        return {}
    rows = MergeRequest.objects.filter(project=project, iid__in=wanted).only(
        "pk", "iid", "title", "state"
    )
    return {
        str(mr.iid): ResolvedReference(
            url=f"{base_url}/{project.full_path}/-/merge_requests/{mr.iid}",
            title=mr.title,
            state=mr.state,
            css_classes=("gfm", "gfm-merge_request"),
            data={
                "project": str(project.pk),
                "merge-request": str(mr.pk),
                "iid": str(mr.iid),
            },
        )
        for mr in rows
    }


def register_references() -> None:
    from kiln.issues.references import register_reference_handler

    register_reference_handler(ReferenceType.MERGE_REQUEST, resolve_references)
