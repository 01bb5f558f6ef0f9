"""The sidebar of an issue or merge request page, as GitLab's issuable sidebar: assignees,
reviewers (merge requests), labels, milestone, due date and confidentiality (issues), the
discussion lock, time tracking, participants and the viewer's notifications.

Everyone who may read the issuable sees the values. Those who may set its metadata (issues:
`admin_issue`; merge requests: `update_merge_request` and `admin_merge_request`, what the
service needs before it applies metadata) also get an Edit dropdown per block, whose form
posts to `<issuable>/sidebar/<block>`; the post calls the same service as the API's
`PUT /projects/:id/issues/:iid` or `PUT .../merge_requests/:iid`, so the system notes, events,
todos and webhooks are the API's. Labels change as GitLab's sidebar changes them: what was
ticked or unticked since the dropdown was drawn is added or removed (`add_label_ids`,
`remove_label_ids`), so a label someone else set meanwhile stays. Any signed-in reader may
turn their notifications on or off. With htmx the block answers itself, re-rendered in place;
without JavaScript the post redirects back to the page. A post from anyone else, or for a
block the issuable lacks, answers 404 and changes nothing.

The issue and merge request views find the issuable (404 for what the viewer may not read)
and call `for_issuable` and `post_block`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.loader import render_to_string

from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, KilnError
from kiln.core.policy import can
from kiln.issues import services as issue_services
from kiln.issues.models import Issue, IssueAssignee
from kiln.issues.time_tracking import human_time
from kiln.labels.models import Label
from kiln.merge_requests import services as mr_services
from kiln.merge_requests.models import (
    MergeRequest,
    MergeRequestAssignee,
    MergeRequestReviewer,
)
from kiln.milestones.models import Milestone
from kiln.notes import subscriptions
from kiln.projects.models import Project
from kiln.web.context import actor_for
from kiln.web.views import notes as shared

# The blocks of each page, in GitLab's order: (name, title). Only some take edits.
ISSUE_BLOCKS = (
    ("assignees", "Assignees"),
    ("labels", "Labels"),
    ("milestone", "Milestone"),
    ("due_date", "Due date"),
    ("time_tracking", "Time tracking"),
    ("confidential", "Confidentiality"),
    ("lock", "Lock issue"),
    ("participants", "Participants"),
    ("subscription", "Notifications"),
)
MERGE_REQUEST_BLOCKS = (
    ("assignees", "Assignees"),
    ("reviewers", "Reviewers"),
    ("labels", "Labels"),
    ("milestone", "Milestone"),
    ("time_tracking", "Time tracking"),
    ("lock", "Lock merge request"),
    ("participants", "Participants"),
    ("subscription", "Notifications"),
)
_EDITABLE = frozenset(
    {"assignees", "reviewers", "labels", "milestone", "due_date", "confidential", "lock"}
)
# How many project members an assignee or reviewer dropdown offers (by username; the full
# edit form and the API take anyone the rules allow).
MAX_PEOPLE = 100


@dataclass
class Choice:
    """One option of an Edit dropdown."""

    value: int
    text: str
    checked: bool
    detail: str = ""
    color: str = ""


@dataclass
class Block:
    """One block of the sidebar. `field` is the service's parameter its checkboxes post;
    `choices` (computed when a template asks, for editors only) what its Edit dropdown
    offers."""

    name: str
    title: str
    editable: bool
    field: str = ""
    choices_of: Callable[[], list[Choice]] | None = None

    @property
    def template(self) -> str:
        return f"web/issuables/sidebar/{self.name}.html"

    @property
    def choices(self) -> list[Choice]:
        if not self.editable or self.choices_of is None:
            return []
        return self.choices_of()


@dataclass
class Sidebar:
    """What the sidebar of one issue or merge request shows to one viewer. The dropdowns'
    choices are computed only when a template asks for them (editors only)."""

    actor: Actor
    project: Project
    issuable: Any  # Issue | MergeRequest
    url: str
    can_edit: bool
    error: str = ""
    error_block: str = ""

    @property
    def is_issue(self) -> bool:
        return isinstance(self.issuable, Issue)

    @property
    def kind(self) -> str:
        """The prefix of the form fields (GitLab's `issue[...]`, `merge_request[...]`)."""
        return "issue" if self.is_issue else "merge_request"

    @property
    def noun(self) -> str:
        return "issue" if self.is_issue else "merge request"

    @property
    def can_subscribe(self) -> bool:
        return self.actor.user is not None

    @cached_property
    def blocks(self) -> list[Block]:
        names = ISSUE_BLOCKS if self.is_issue else MERGE_REQUEST_BLOCKS
        choices: dict[str, tuple[str, Callable[[], list[Choice]]]] = {
            "assignees": ("assignee_ids", lambda: self._people_choices(self.assignees)),
            "reviewers": (
                "reviewer_ids",
                lambda: self._people_choices([r.user for r in self.reviewers]),
            ),
            "labels": ("label_ids", self._label_choices),
            "milestone": ("milestone_id", self._milestone_choices),
        }
        return [
            Block(n, t, self.can_edit and n in _EDITABLE, *choices.get(n, ("", None)))
            for n, t in names
        ]

    def block(self, name: str) -> Block:
        found = next((b for b in self.blocks if b.name == name), None)
        if found is None:
            raise Http404(name)
        return found

    # -- values --------------------------------------------------------------------------------

    @cached_property
    def assignees(self) -> list[Any]:
        if self.is_issue:
            rows: Any = IssueAssignee.objects.filter(issue=self.issuable)
        else:
            rows = MergeRequestAssignee.objects.filter(merge_request=self.issuable)
        return [row.user for row in rows.select_related("user").order_by("id")]

    @cached_property
    def reviewers(self) -> list[MergeRequestReviewer]:
        rows = MergeRequestReviewer.objects.filter(merge_request=self.issuable)
        return list(rows.select_related("user").order_by("id"))

    @cached_property
    def labels(self) -> list[Label]:
        return list(self.issuable.labels.order_by("title", "id"))

    @cached_property
    def milestone(self) -> Milestone | None:
        milestone_id = self.issuable.milestone_id
        if milestone_id is None:
            return None
        return Milestone.objects.select_related("group").filter(pk=milestone_id).first()

    @property
    def milestone_url(self) -> str:
        m = self.milestone
        if m is None:
            return ""
        if m.project_id is not None:
            return f"/{self.project.full_path}/-/milestones/{m.iid}"
        return f"/groups/{m.group.full_path}/-/milestones/{m.iid}" if m.group else ""

    @property
    def time_estimate(self) -> str | None:
        return human_time(getattr(self.issuable, "time_estimate", 0))

    @property
    def time_spent(self) -> str | None:
        return human_time(getattr(self.issuable, "total_time_spent", 0))

    @cached_property
    def participants(self) -> list[Any]:
        if not self.is_issue:
            return mr_services.participants(self.issuable)
        ids = subscriptions.participant_ids(self.issuable)
        users = get_user_model().objects.in_bulk(ids)
        return [users[i] for i in ids if i in users]

    @cached_property
    def subscribed(self) -> bool:
        return subscriptions.is_subscribed(self.actor, self.issuable)

    # -- the dropdowns' choices ----------------------------------------------------------------

    def _people_choices(self, current: list[Any]) -> list[Choice]:
        """The current people first, then the project's members the rules let be assigned
        (issues: active users who may read the project, as `valid_assignees`; merge requests:
        active users who may read its merge requests, as the service filters them)."""
        taken = {u.pk for u in current}
        members = [u for u in shared.member_choices(self.actor, self.project) if u.pk not in taken]
        ids = [u.pk for u in members]
        if self.is_issue:
            allowed = set(issue_services.valid_assignees(self.project, ids))
        else:
            allowed = {u.pk for u in mr_services.users_who_may_read(self.project, ids)}
        members = [u for u in members if u.pk in allowed]
        chosen = [Choice(u.pk, u.name, True, f"@{u.username}") for u in current]
        return chosen + [
            Choice(u.pk, u.name, False, f"@{u.username}") for u in members[:MAX_PEOPLE]
        ]

    def _label_choices(self) -> list[Choice]:
        """The project's and its groups' labels, and the current ones (even archived)."""
        current = {lb.pk for lb in self.labels}
        offered = {lb.pk: lb for lb in shared.label_choices(self.project)}
        offered.update({lb.pk: lb for lb in self.labels})
        ordered = sorted(offered.values(), key=lambda lb: (lb.title.lower(), lb.pk))
        return [Choice(lb.pk, lb.title, lb.pk in current, color=lb.color) for lb in ordered]

    def _milestone_choices(self) -> list[Choice]:
        """Open milestones of the project and its groups, and the current one (even closed)."""
        offered = shared.milestone_choices(self.project)
        current = self.milestone
        if current is not None and all(m.pk != current.pk for m in offered):
            offered.insert(0, current)
        current_id = current.pk if current else None
        return [
            Choice(m.pk, m.title, m.pk == current_id, "" if m.project_id else "group")
            for m in offered
        ]


def may_edit(actor: Actor, issuable: Any) -> bool:
    """May `actor` set the issuable's metadata (what the service applies only for them)?"""
    if isinstance(issuable, Issue):
        return can(actor, "admin_issue", issuable)
    return can(actor, "update_merge_request", issuable) and can(
        actor, "admin_merge_request", issuable
    )


def for_issuable(
    request: HttpRequest, project: Project, issuable: Issue | MergeRequest, url: str
) -> Sidebar:
    actor = actor_for(request)
    return Sidebar(actor, project, issuable, url, may_edit(actor, issuable))


# -- edits -------------------------------------------------------------------------------------


def _changes(block: str, kind: str, post: QueryDict) -> dict[str, Any]:
    """The service's changes a block's form asks for (the API's parameter names)."""
    if block in ("assignees", "reviewers"):
        key = "assignee_ids" if block == "assignees" else "reviewer_ids"
        return {key: shared.int_list(post.getlist(f"{kind}[{key}][]"))}
    if block == "labels":
        ticked = set(shared.int_list(post.getlist(f"{kind}[label_ids][]")))
        before = set(shared.int_list(post.getlist(f"{kind}[previous_label_ids][]")))
        changes: dict[str, Any] = {}
        if added := sorted(ticked - before):
            changes["add_label_ids"] = added
        if removed := sorted(before - ticked):
            changes["remove_label_ids"] = removed
        return changes
    if block == "milestone":
        value = post.get(f"{kind}[milestone_id]", "").strip()
        if value in ("", "0"):
            return {"milestone_id": None}
        return {"milestone_id": int(value)} if value.isdigit() and len(value) < 19 else {}
    if block == "due_date":
        return {"due_date": post.get(f"{kind}[due_date]", "").strip()[:32] or None}
    if block == "confidential":
        return {"confidential": post.get(f"{kind}[confidential]") == "true"}
    if block == "lock":
        return {"discussion_locked": post.get(f"{kind}[discussion_locked]") == "true"}
    raise Http404(block)


def _update(actor: Actor, issuable: Any, changes: dict[str, Any]) -> Any:
    if isinstance(issuable, Issue):
        return issue_services.update_issue(actor=actor, issue=issuable, **changes)
    return mr_services.update_merge_request(actor=actor, mr=issuable, changes=changes)


def _subscribe(actor: Actor, issuable: Any, event: str | None) -> None:
    if event not in ("subscribe", "unsubscribe"):
        raise Http404("subscription_event")
    subscribed = event == "subscribe"
    if isinstance(issuable, Issue):
        subscriptions.set_subscription(actor=actor, noteable=issuable, subscribed=subscribed)
    else:
        mr_services.set_subscription(actor=actor, mr=issuable, subscribed=subscribed)


def post_block(
    request: HttpRequest, project: Project, issuable: Issue | MergeRequest, url: str, block: str
) -> HttpResponse:
    """`POST <issuable>/sidebar/<block>`: change what the block shows, then answer the block
    (htmx) or redirect back to the page."""
    sidebar = for_issuable(request, project, issuable, url)
    actor = sidebar.actor
    target = sidebar.block(block)
    if actor.user is None:
        raise Http404(block)
    if block == "subscription":
        _subscribe(actor, issuable, request.POST.get("subscription_event"))
    elif not target.editable:
        raise Http404(block)
    elif changes := _changes(block, sidebar.kind, request.POST):
        try:
            sidebar.issuable = _update(actor, issuable, changes)
        except Forbidden:
            raise Http404(block) from None
        except KilnError as exc:
            sidebar.error, sidebar.error_block = shared.error_text(exc), block
    if request.headers.get("HX-Request"):
        html = render_to_string(target.template, {"sb": sidebar, "b": target}, request)
        if block in ("assignees", "reviewers"):
            # They are participants too: that block follows out of band.
            others = sidebar.block("participants")
            html += render_to_string(others.template, {"sb": sidebar, "b": others, "oob": True})
        return HttpResponse(html)
    if sidebar.error:
        messages.error(request, sidebar.error)
    return HttpResponseRedirect(f"{url}#sidebar-{block}")
