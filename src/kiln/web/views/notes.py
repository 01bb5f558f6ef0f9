"""Notes and discussions on issues and merge requests, and what the planning pages share:
rendering Markdown for the viewer, the Markdown preview endpoint, paginating lists, the
choices of the issuable forms (members, labels, milestones) and turning a domain error into
a message on the form.

Every write goes through `kiln.notes.services` (quick actions included); what the viewer may
see comes from `kiln.notes.queries`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from kiln.core.actor import Actor
from kiln.core.errors import Forbidden, KilnError, NotFound, ValidationFailed
from kiln.core.policy import can
from kiln.core.urls import base_url
from kiln.issues.references import render_for
from kiln.labels.models import Label
from kiln.labels.queries import list_labels
from kiln.milestones.models import Milestone
from kiln.milestones.queries import MilestoneFilters, list_milestones
from kiln.namespaces.models import Namespace
from kiln.notes import noteables
from kiln.notes import queries as note_queries
from kiln.notes import services as note_services
from kiln.notes.models import Note, NoteType
from kiln.notes.services import Discussion
from kiln.projects.members import list_all_members_for
from kiln.projects.models import Project
from kiln.web.context import actor_for, project_or_404

PER_PAGE = 20
# What a preview or a comment may be at most (GitLab's note limit is 1,000,000 characters).
PREVIEW_MAX = 1_000_000


# -- Markdown ----------------------------------------------------------------------------------


def markdown_html(request: HttpRequest, text: str, project: Project | None) -> SafeString:
    """GitLab Flavored Markdown as the viewer may see it: sanitized by kiln.markdown, with
    references resolved only to what the viewer may read. The one place the planning pages
    mark HTML safe."""
    if not text:
        return mark_safe("")
    html = render_for(actor_for(request), text, project=project, base_url=base_url(request))
    return mark_safe(html)  # noqa: S308 (sanitized by kiln.markdown)


@require_POST
def preview_markdown(request: HttpRequest, full_path: str) -> JsonResponse:
    """`POST /<project>/-/preview_markdown` (GitLab's path): `{"body": "<html>"}` for the
    editor's Preview tab, rendered for the viewer."""
    project = project_or_404(request, full_path)
    text = request.POST.get("text", "")[:PREVIEW_MAX]
    return JsonResponse({"body": str(markdown_html(request, text, project))})


# -- lists -------------------------------------------------------------------------------------


@dataclass
class PageLinks:
    number: int
    pages: int
    previous: str | None
    next: str | None
    count: int


def paginate(
    request: HttpRequest, items: Any, per_page: int = PER_PAGE
) -> tuple[list[Any], PageLinks]:
    """One page of `items` (a queryset) and the links to its neighbours, keeping the query."""
    paginator = Paginator(items, per_page)
    page = paginator.get_page(request.GET.get("page"))

    def link(number: int) -> str:
        params = request.GET.copy()
        params["page"] = str(number)
        return f"?{params.urlencode()}"

    links = PageLinks(
        number=page.number,
        pages=paginator.num_pages,
        previous=link(page.previous_page_number()) if page.has_previous() else None,
        next=link(page.next_page_number()) if page.has_next() else None,
        count=paginator.count,
    )
    return list(page.object_list), links


def query_with(request: HttpRequest, **changes: str | None) -> str:
    """The current query string with some parameters changed (None drops one), page reset."""
    params = request.GET.copy()
    params.pop("page", None)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


def state_tabs(
    request: HttpRequest, states: Sequence[tuple[str, str]], counts: Mapping[str, int], current: str
) -> list[dict[str, Any]]:
    """The state tabs of an issue or merge request list: title, count, link, which is current."""
    return [
        {
            "state": key,
            "title": title,
            "count": counts[key],
            "url": query_with(request, state=key),
            "current": key == current,
        }
        for key, title in states
    ]


def query_string(**params: str) -> str:
    return urlencode({k: v for k, v in params.items() if v})


# -- the issuable forms' choices ------------------------------------------------------------


def member_choices(actor: Actor, project: Project) -> list[Any]:
    """Users who may be assigned (the project's effective members), by username."""
    try:
        users, _ = list_all_members_for(actor=actor, source=project)
    except (NotFound, Forbidden):
        return []
    return list(users.order_by("username")[:500])


def label_choices(project: Project) -> list[Label]:
    return list(list_labels(project, archived=False)[:500])


def milestone_choices(project: Project) -> list[Milestone]:
    return list(
        list_milestones(project, MilestoneFilters(state="active", include_ancestors=True))[:200]
    )


def scope_context(parent: Project | Namespace) -> dict[str, Any]:
    """What the pages shared by projects and groups (labels, milestones) need to know of their
    parent: `project` or `group` (which sidebar), and `scope_url`, the base of its `/-/` pages."""
    if isinstance(parent, Project):
        return {"project": parent, "scope_url": f"/{parent.full_path}/-"}
    return {"group": parent, "scope_url": f"/groups/{parent.full_path}/-"}


def int_list(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit() and len(v) < 19]


def error_text(exc: KilnError) -> str:
    """A domain error as one sentence for the form (GitLab's validation messages)."""
    if isinstance(exc, ValidationFailed):
        return "; ".join(
            f"{field.replace('_', ' ').capitalize()} {', '.join(problems)}"
            for field, problems in exc.errors.items()
        )
    messages_ = getattr(exc, "messages", None)
    if isinstance(messages_, list) and messages_:
        return "; ".join(str(m) for m in messages_)
    ruby = _RUBY_ERRORS.findall(exc.message or "")
    if ruby:
        # Rails' errors hash as a Ruby literal (`{:due_date=>["must be ..."]}`): as sentences.
        return "; ".join(
            f"{field.replace('_', ' ').capitalize()} {problem}"
            for field, problems in ruby
            for problem in _RUBY_STRINGS.findall(problems)
        )
    return exc.message or "The change could not be saved."


_RUBY_ERRORS = re.compile(r":(\w+)=>\[(.*?)\](?=, :|\})")
_RUBY_STRINGS = re.compile(r'"((?:[^"\\]|\\.)*)"')


# -- threads -----------------------------------------------------------------------------------


@dataclass
class NoteView:
    note: Note
    html: SafeString
    can_edit: bool
    awards: Any = None  # its reactions row (kiln.web.views.award_emoji), where shown


@dataclass
class ThreadView:
    discussion: Discussion
    notes: list[NoteView]
    can_reply: bool
    can_resolve: bool
    outdated: bool = False

    @property
    def id(self) -> str:
        return self.discussion.id

    @property
    def first(self) -> NoteView:
        return self.notes[0]

    @property
    def system(self) -> bool:
        return self.notes[0].note.system

    @property
    def position(self) -> dict[str, Any]:
        return self.notes[0].note.position or {}

    @property
    def is_diff(self) -> bool:
        return self.notes[0].note.note_type == NoteType.DIFF


def threads_for(request: HttpRequest, noteable: Any, project: Project) -> list[ThreadView]:
    """Every thread of the noteable the viewer may see, oldest first, rendered for them."""
    actor = actor_for(request)
    nt = noteables.type_of(noteable)
    may_comment = actor.user is not None and can(actor, "create_note", noteable)
    may_resolve = (
        nt.resolvable and actor.user is not None and can(actor, nt.resolve_action, noteable)
    )
    head = str(getattr(noteable, "diff_head_sha", "") or "")
    out = []
    for discussion in note_queries.list_discussions_for(actor, noteable):
        views = [
            NoteView(
                note=note,
                html=markdown_html(request, note.body, project),
                can_edit=not note.system
                and actor.user is not None
                and can(actor, "admin_note", note),
            )
            for note in discussion.notes
        ]
        first = discussion.notes[0]
        outdated = (
            first.note_type == NoteType.DIFF
            and bool(head)
            and not note_services.position_is_current(first, head)
        )
        out.append(
            ThreadView(
                discussion=discussion,
                notes=views,
                can_reply=may_comment and not first.system,
                can_resolve=may_resolve and discussion.resolvable,
                outdated=outdated,
            )
        )
    return out


def create_note_from_form(
    request: HttpRequest,
    noteable: Any,
    *,
    position: dict[str, Any] | None = None,
) -> None:
    """Post a comment (or a reply with `discussion_id`, or a thread with `thread=1`) through
    the notes service; quick actions run there. Messages tell the user what happened."""
    actor = actor_for(request)
    body = request.POST.get("note", "")
    discussion_id = request.POST.get("discussion_id") or None
    if not body.strip():
        messages.error(request, "Comment can't be blank.")
        return
    try:
        result = note_services.create_note(
            actor=actor,
            noteable=noteable,
            body=body,
            discussion_id=discussion_id,
            position=position,
            note_type=NoteType.DISCUSSION if request.POST.get("thread") == "1" else None,
        )
    except NotFound:
        raise Http404("discussion") from None
    except Forbidden:
        raise
    except KilnError as exc:
        messages.error(request, error_text(exc))
        return
    if result.messages:
        messages.success(request, " ".join(result.messages))
    elif result.note is None:
        messages.success(request, "Commands applied.")


def find_note(request: HttpRequest, noteable: Any, note_id: str) -> Note:
    try:
        return note_queries.get_note_for(actor_for(request), noteable, note_id)
    except NotFound:
        raise Http404("note") from None


def update_note_from_form(request: HttpRequest, noteable: Any, note_id: str) -> None:
    note = find_note(request, noteable, note_id)
    body = request.POST.get("note", "")
    if not body.strip():
        messages.error(request, "Comment can't be blank.")
        return
    try:
        note_services.update_note(actor=actor_for(request), note=note, body=body)
    except Forbidden:
        raise Http404("note") from None
    except KilnError as exc:
        messages.error(request, error_text(exc))


def delete_note_from_form(request: HttpRequest, noteable: Any, note_id: str) -> None:
    note = find_note(request, noteable, note_id)
    try:
        note_services.delete_note(actor=actor_for(request), note=note)
    except Forbidden:
        raise Http404("note") from None


def resolve_from_form(
    request: HttpRequest, noteable: Any, discussion_id: str, resolved: bool
) -> None:
    try:
        note_services.resolve_discussion(
            actor=actor_for(request),
            noteable=noteable,
            discussion_id=discussion_id,
            resolved=resolved,
        )
    except (NotFound, Forbidden):
        raise Http404("discussion") from None


def back(url: str, anchor: str = "") -> HttpResponse:
    return HttpResponseRedirect(f"{url}#{anchor}" if anchor else url)
