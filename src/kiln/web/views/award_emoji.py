"""Award emoji on issues, merge requests and their comments: the reactions row under each
(thumbs up and down, what others awarded, a small picker), and the toggles it posts to, at
GitLab's paths: `/<project>/-/issues/<iid>/toggle_award_emoji`, `.../merge_requests/<iid>/...`
and `/<project>/-/notes/<id>/toggle_award_emoji`.

`kiln.notes.awards.toggle_award` decides (the `award_emoji` policy: whoever may comment); the
noteable registry finds what is awarded, so what the viewer may not read answers 404. With
htmx the toggle answers the re-rendered row; without JavaScript it redirects back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from kiln.core.actor import Actor
from kiln.core.errors import KilnError, NotFound
from kiln.core.policy import can
from kiln.markdown.emoji import EMOJI
from kiln.notes import awards, noteables
from kiln.notes import queries as note_queries
from kiln.notes.awards import DOWNVOTE, UPVOTE
from kiln.notes.models import AwardEmoji, Note
from kiln.projects.models import Project
from kiln.web.context import actor_for, project_or_404

# The picker's choices: GitLab's frequently used reactions (any other name is still shown
# when someone awarded it through the API or `/award`).
PICKER = (
    UPVOTE, DOWNVOTE, "smile", "laughing", "tada", "heart", "rocket", "eyes",
    "confused", "thinking", "clap", "100", "fire", "white_check_mark",
)  # fmt: skip
_DEFAULT_TITLES = {UPVOTE: "Thumbs up", DOWNVOTE: "Thumbs down"}


@dataclass
class Reaction:
    name: str
    emoji: str
    count: int
    mine: bool
    title: str


@dataclass
class AwardsView:
    """The reactions row of one awardable. `dom_id` is the element htmx swaps."""

    dom_id: str
    toggle_url: str
    can_award: bool
    reactions: list[Reaction] = field(default_factory=list)
    picker: Sequence[tuple[str, str]] = ()


def _who(names: list[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return f"{', '.join(names[:-1])}, and {names[-1]}"


def _reactions(actor: Actor, rows: Iterable[AwardEmoji], defaults: bool) -> list[Reaction]:
    """One reaction per emoji name, in the order first awarded (thumbs up and down first,
    shown even unawarded, as GitLab's `show_default_award_emojis`)."""
    by_name: dict[str, list[AwardEmoji]] = {name: [] for name in (UPVOTE, DOWNVOTE) if defaults}
    for award in rows:
        by_name.setdefault(award.name, []).append(award)
    me = actor.user.pk if actor.user is not None else None
    out = []
    for name, given in by_name.items():
        mine = any(a.user_id == me for a in given)
        others = [a.user.name for a in given if a.user_id != me]
        who = (["You"] if mine else []) + others
        title = f"{_who(who)} reacted with :{name}:" if who else _DEFAULT_TITLES.get(name, name)
        out.append(Reaction(name, EMOJI.get(name, f":{name}:"), len(given), mine, title))
    return out


def awards_view(
    actor: Actor,
    *,
    rows: Iterable[AwardEmoji],
    dom_id: str,
    toggle_url: str,
    can_award: bool,
    defaults: bool = True,
) -> AwardsView:
    return AwardsView(
        dom_id=dom_id,
        toggle_url=toggle_url,
        can_award=can_award,
        reactions=_reactions(actor, rows, defaults),
        picker=[(name, EMOJI[name]) for name in PICKER] if can_award else (),
    )


def _noteable_url(project: Project, noteable: Any) -> str:
    nt = noteables.type_of(noteable)
    return f"/{project.full_path}/-/{nt.route}/{nt.iid_of(noteable)}"


def for_noteable(request: HttpRequest, project: Project, noteable: Any) -> AwardsView:
    """The reactions row of an issue or merge request."""
    actor = actor_for(request)
    nt = noteables.type_of(noteable)
    pk = int(nt.id_of(noteable) or 0)
    return awards_view(
        actor,
        rows=awards.awards_by_awardable(nt.name, [pk]).get(pk, []),
        dom_id="awards",
        toggle_url=f"{_noteable_url(project, noteable)}/toggle_award_emoji",
        can_award=actor.user is not None and can(actor, "award_emoji", noteable),
        defaults=project.show_default_award_emojis,
    )


def attach_to_notes(request: HttpRequest, project: Project, threads: Iterable[Any]) -> None:
    """Give each comment of `threads` (ThreadViews) its reactions row (one query)."""
    actor = actor_for(request)
    views = [nv for t in threads for nv in t.notes if not nv.note.system]
    found = awards.awards_by_awardable("Note", [nv.note.pk for nv in views])
    for nv in views:
        note = nv.note
        nv.awards = awards_view(
            actor,
            rows=found.get(note.pk, []),
            dom_id=f"awards-note-{note.pk}",
            toggle_url=f"/{project.full_path}/-/notes/{note.pk}/toggle_award_emoji",
            can_award=actor.user is not None and can(actor, "award_emoji", note),
            defaults=False,
        )


# -- the toggles -------------------------------------------------------------------------------


def _toggle(request: HttpRequest, subject: Any, kind: str, pk: int) -> None:
    """Award `name` as the viewer, or take their award back (404 when they may not award
    here or `name` is no emoji: nothing changes)."""
    actor = actor_for(request)
    assert actor.user is not None
    name = request.POST.get("name", "").strip()[:64]
    try:
        awards.toggle_award(
            actor=actor, subject=subject, awardable_type=kind, awardable_id=pk, name=name
        )
    except KilnError:
        raise Http404("award emoji") from None


def _answer(request: HttpRequest, view: Callable[[], AwardsView], back: str) -> HttpResponse:
    if request.headers.get("HX-Request"):
        return render(request, "web/notes/_awards.html", {"aw": view()})
    return HttpResponseRedirect(back)


def _sign_in(back: str) -> HttpResponse:
    return HttpResponseRedirect(f"/users/sign_in?redirect_to={quote(back)}")


def _find_noteable(request: HttpRequest, project: Project, route: str, iid: str) -> Any:
    nt = noteables.by_route(route)
    found = nt.find(actor_for(request), project, iid) if nt is not None else None
    if found is None:
        raise Http404(route)
    return found


@require_POST
def toggle_noteable(request: HttpRequest, full_path: str, iid: str, route: str) -> HttpResponse:
    """`POST .../issues/<iid>/toggle_award_emoji` (and merge requests): `name` is the emoji."""
    project = project_or_404(request, full_path)
    noteable = _find_noteable(request, project, route, iid)
    back = _noteable_url(project, noteable)
    if actor_for(request).user is None:
        return _sign_in(back)
    nt = noteables.type_of(noteable)
    _toggle(request, noteable, nt.name, int(nt.id_of(noteable) or 0))
    return _answer(request, lambda: for_noteable(request, project, noteable), back)


@dataclass
class _Thread:
    """One comment as `attach_to_notes` takes it (the note is all a reactions row needs)."""

    notes: list[Any]


@dataclass
class _Comment:
    note: Note
    awards: AwardsView | None = None


@require_POST
def toggle_note(request: HttpRequest, full_path: str, note_id: str) -> HttpResponse:
    """`POST /<project>/-/notes/<id>/toggle_award_emoji`: a comment on an issue or merge
    request the viewer may read."""
    project = project_or_404(request, full_path)
    actor = actor_for(request)
    noteable = note_queries.find_noteable_of_note(actor, project, note_id)
    if noteable is None:
        raise Http404("note")
    try:
        note = note_queries.get_note_for(actor, noteable, note_id)
    except NotFound:
        raise Http404("note") from None
    back = f"{_noteable_url(project, noteable)}#note_{note.pk}"
    if actor.user is None:
        return _sign_in(back)
    if note.system:
        raise Http404("note")
    _toggle(request, note, "Note", note.pk)

    def row_view() -> AwardsView:
        comment = _Comment(note)
        attach_to_notes(request, project, [_Thread([comment])])
        assert comment.awards is not None
        return comment.awards

    return _answer(request, row_view, back)
